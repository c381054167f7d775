namespace NatRouter.Tests;

/// <summary>
/// The router on a Redis store whose server goes away: established flows keep flowing from the store's near cache,
/// new flows are dropped and counted as store errors (never a crash), and once Redis is back new flows open again. Root only.
/// </summary>
[Collection(TimingSensitiveCollection.Name)]
public sealed class StoreOutageTests
{
    [SkippableFact]
    public void While_redis_is_down_established_flows_go_on_new_ones_are_counted_and_it_recovers()
    {
        string? reason = RouterNetwork.WhyNot("redis");
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork("redis");
        var server = network.StartHelper(network.Outside, "helper-udp-echo", "198.51.100.2", "5353");
        var talk = TalkThrough(network, 7201);

        network.Redis!.Kill();
        talk.StandardInput.WriteLine("while redis is down");
        talk.StandardInput.Flush();
        var established = RouterNetwork.ReadLine(talk, TimeSpan.FromSeconds(10));
        var (newFlow, newOutput) = network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo");

        Assert.Equal("echoed while redis is down", established);
        Assert.NotEqual(0, newFlow);
        Assert.True(network.Router.Counters.StoreErrors > 0, $"{newOutput} {network.Router.Counters}");

        network.Redis.Start();
        var recovered = RetryFor(TimeSpan.FromSeconds(20), () => network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo").ExitCode == 0);
        Assert.True(recovered, network.Router.Counters.ToString());
        GC.KeepAlive(server);
    }

    [SkippableFact]
    public void While_redis_hangs_an_established_conversation_keeps_its_pace_and_new_flows_are_counted()
    {
        string? reason = RouterNetwork.WhyNot("redis");
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork("redis");
        var server = network.StartHelper(network.Outside, "helper-udp-echo", "198.51.100.2", "5353");
        var talk = TalkThrough(network, 7202);

        network.Redis!.Pause();
        try
        {
            Thread.Sleep(1200); // past the near cache's freshness: every entry of the conversation is stale now
            // A hundred exchanges, each several packets each way. Waiting out the operation timeout on stale entries (as the
            // store once did) costs ≥ 0.5 s an exchange, ≥ 50 s in all; served at once they take well under a second.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 100; i++)
            {
                talk.StandardInput.WriteLine($"hang {i}");
                talk.StandardInput.Flush();
                Assert.Equal($"echoed hang {i}", RouterNetwork.ReadLine(talk, TimeSpan.FromSeconds(10)));
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"100 exchanges took {clock.Elapsed} while Redis hung");

            var (newFlow, newOutput) = network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo");
            Assert.NotEqual(0, newFlow);
            Assert.True(network.Router.Counters.StoreErrors > 0, $"{newOutput} {network.Router.Counters}");
        }
        finally
        {
            network.Redis.Resume();
        }
        var recovered = RetryFor(TimeSpan.FromSeconds(20), () => network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo").ExitCode == 0);
        Assert.True(recovered, network.Router.Counters.ToString());
        GC.KeepAlive(server);
    }

    /// <summary>A conversation opened through the router whose server side the test steers.</summary>
    private static System.Diagnostics.Process TalkThrough(RouterNetwork network, int port)
    {
        var talk = network.StartHelper(network.Outside, "helper-tcp-talk-server", "198.51.100.2", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        network.StartHelper(network.Inside, "helper-tcp-talk-client", "198.51.100.2", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.StartsWith("connected from", RouterNetwork.ReadLine(talk, TimeSpan.FromSeconds(10)));
        talk.StandardInput.WriteLine("before");
        talk.StandardInput.Flush();
        Assert.Equal("echoed before", RouterNetwork.ReadLine(talk, TimeSpan.FromSeconds(10)));
        return talk;
    }

    private static bool RetryFor(TimeSpan limit, Func<bool> attempt)
    {
        var deadline = DateTime.UtcNow + limit;
        do
        {
            if (attempt()) return true;
            Thread.Sleep(500);
        }
        while (DateTime.UtcNow < deadline);
        return false;
    }
}
