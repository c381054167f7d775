namespace NatRouter.Tests;

/// <summary>
/// The router's TUN queues take their writes through NAPI (IFF_NAPI, the router's default): the kernel here grants it,
/// and UDP and ICMP go through both directions of such queues, on one queue and on two (every other router test runs on
/// such queues too, TCP downloads included). Root only.
/// </summary>
public sealed class NapiTests
{
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public void Traffic_passes_tun_queues_that_use_napi(int queues)
    {
        string? reason = RouterNetwork.WhyNot();
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(queues: queues);
        Assert.True(network.UsesNapi, "the kernel refused IFF_NAPI on a queue");

        network.StartHelper(network.Outside, "helper-udp-echo", "198.51.100.2", "5353");
        Assert.Equal(0, network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo").ExitCode);
        var ping = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2");
        Assert.True(ping.ExitCode == 0, ping.Output);
        Assert.Contains("3 received", ping.Output);
        Assert.Equal(0, network.Router.Counters.Dropped.Values.Sum());
    }
}
