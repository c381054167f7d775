namespace NatRouter.Tests;

/// <summary>TCP, UDP, port forwards and ICMP errors through the router, on each store. Root only.</summary>
public sealed class TrafficTests
{
    private static RouterNetwork Network(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        return new RouterNetwork(store, [new ForwardRule(NatFramework.NatProtocol.Tcp, 8080, NatFramework.Ipv4Address.Parse("10.77.0.2"), 8080)]);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void An_http_download_from_outside_arrives_byte_for_byte(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Outside, "helper-http-serve", "198.51.100.2", "8000", "2000000");

        var (code, output) = network.Helper(network.Inside, "helper-http-get", "198.51.100.2", "8000", "2000000");

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("every byte as sent", output);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void A_udp_datagram_is_echoed_back_through_the_nat(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Outside, "helper-udp-echo", "198.51.100.2", "5353");

        var (code, output) = network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo");

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void A_port_forward_lets_the_outside_reach_the_inside_server(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Inside, "helper-http-serve", "10.77.0.2", "8080", "500000");

        var (code, output) = network.Helper(network.Outside, "helper-http-get", "198.51.100.1", "8080", "500000");

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("every byte as sent", output);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void An_icmp_port_unreachable_from_outside_reaches_the_inside_client(string store)
    {
        using var network = Network(store);

        var (code, output) = network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "9", "refused");

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("port unreachable", output);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Many_connections_open_at_once_each_get_their_own_mapping(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Outside, "helper-tcp-echo", "198.51.100.2", "7000");

        var (code, output) = network.Helper(network.Inside, "helper-tcp-many", "198.51.100.2", "7000", "300");

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("300 of 300", output);
        Assert.True(network.Router.Counters.ConnectionsAdded >= 300, network.Router.Counters.ToString());
    }

    [SkippableTheory]
    [InlineData(1, 0)]
    [InlineData(1, 1000)]
    [InlineData(2, 0)]
    [InlineData(2, -1)]
    [InlineData(1, -1)]
    public void Other_thread_and_polling_settings_route_tcp_and_icmp_too(int threads, int spinMicroseconds)
    {
        string? reason = RouterNetwork.WhyNot();
        Skip.If(reason is not null, reason);
        // -1: poll all the time (--spin-us -1).
        var spin = spinMicroseconds == -1 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMicroseconds(spinMicroseconds);
        using var network = new RouterNetwork(threads: threads, spin: spin);
        network.StartHelper(network.Outside, "helper-http-serve", "198.51.100.2", "8000", "2000000");

        var (code, output) = network.Helper(network.Inside, "helper-http-get", "198.51.100.2", "8000", "2000000");
        var (pingCode, ping) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2");

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("every byte as sent", output);
        Assert.True(pingCode == 0, ping);
    }
}
