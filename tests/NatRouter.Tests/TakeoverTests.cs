using System.Diagnostics;

namespace NatRouter.Tests;

/// <summary>
/// Connections outliving the router that made them: on LiteDB the table survives a router restart on the same file;
/// on Redis a second router sharing the table takes over the interfaces when the first stops. In both, a TCP
/// conversation opened through the first router goes on through the next, and the next opens no new connection for
/// it. The server speaks first after the switch, so its packet must match the stored mapping to get in at all. Root only.
/// </summary>
public sealed class TakeoverTests
{
    [SkippableFact]
    public void Litedb_a_tcp_connection_survives_a_router_restart_on_the_same_file()
    {
        string? reason = RouterNetwork.WhyNot("litedb");
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork("litedb");
        var server = Converse(network);

        network.StopRouter();
        var next = network.TakeOver();

        AssertConversationGoesOn(server, next);
    }

    [SkippableFact]
    public void Redis_a_second_router_takes_over_and_a_tcp_connection_goes_on()
    {
        string? reason = RouterNetwork.WhyNot("redis");
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork("redis");
        var server = Converse(network);
        var standby = network.OpenStore(); // connected to the shared table before the first router goes away

        network.StopRouter();
        var next = network.TakeOver(standby);

        AssertConversationGoesOn(server, next);
    }

    /// <summary>Opens a conversation from inside to outside and exchanges one line through the first router.</summary>
    private static Process Converse(RouterNetwork network)
    {
        var server = network.StartHelper(network.Outside, "helper-tcp-talk-server", "198.51.100.2", "7100");
        network.StartHelper(network.Inside, "helper-tcp-talk-client", "198.51.100.2", "7100");
        var connected = RouterNetwork.ReadLine(server, TimeSpan.FromSeconds(10));
        Assert.StartsWith("connected from 198.51.100.1:", connected);
        server.StandardInput.WriteLine("before");
        server.StandardInput.Flush();
        Assert.Equal("echoed before", RouterNetwork.ReadLine(server, TimeSpan.FromSeconds(10)));
        return server;
    }

    private static void AssertConversationGoesOn(Process server, PacketRouter next)
    {
        server.StandardInput.WriteLine("after the switch");
        server.StandardInput.Flush();
        Assert.Equal("echoed after the switch", RouterNetwork.ReadLine(server, TimeSpan.FromSeconds(15)));
        Assert.Equal(0, next.Counters.ConnectionsAdded);
        Assert.True(next.Counters.Translated >= 2, next.Counters.ToString()); // at least the server's line in and its echo out
    }
}
