using NatFramework;

namespace NatRouter.Tests;

/// <summary>The router's table under connection churn and per-host limits, with real clients. Root only.</summary>
public sealed class TcpStateTests
{
    private const int Capacity = 16;

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void An_idle_established_connection_survives_five_times_the_table_of_short_connections(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store, nat: new NatOptions { TcpCapacity = Capacity });
        var server = network.StartHelper(network.Outside, "helper-tcp-talk-server", "198.51.100.2", "7100");
        network.StartHelper(network.Inside, "helper-tcp-talk-client", "198.51.100.2", "7100");
        Assert.StartsWith("connected", RouterNetwork.ReadLine(server, TimeSpan.FromSeconds(10)));
        network.StartHelper(network.Outside, "helper-tcp-echo", "198.51.100.2", "7000");

        var (code, output) = network.Helper(network.Inside, "helper-tcp-churn", "198.51.100.2", "7000", (5 * Capacity).ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        // The quiet connection was not evicted for the closed ones: the server's next line gets through and back.
        server.StandardInput.WriteLine("still here");
        server.StandardInput.Flush();
        Assert.Equal("echoed still here", RouterNetwork.ReadLine(server, TimeSpan.FromSeconds(10)));
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void A_host_over_its_udp_limit_is_refused_and_counted_as_quota_exceeded(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store, udpPerHost: 5);
        network.StartHelper(network.Outside, "helper-udp-echo", "198.51.100.2", "5353");

        var (code, output) = network.Helper(network.Inside, "helper-udp-flows", "198.51.100.2", "5353", "12");

        Assert.True(code == 0, output);
        Assert.Contains("5 of 12 flows echoed", output);
        Assert.True(network.Router.Counters.Dropped.TryGetValue("quota-exceeded", out long refused) && refused == 7, network.Router.Counters.ToString());
    }
}
