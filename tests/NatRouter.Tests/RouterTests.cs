namespace NatRouter.Tests;

/// <summary>ICMP through the router between two namespaces, on each store. Root only.</summary>
public sealed class RouterTests
{
    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Ping_from_inside_reaches_the_outside_host_and_the_reply_comes_back(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store);

        var (code, output) = network.In(network.Inside, "ping", "-c", "3", "-W", "2", "198.51.100.2");

        Assert.True(code == 0, output);
        Assert.Contains("3 received", output);
        Assert.True(network.Router.Counters.ConnectionsAdded >= 1);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void The_router_answers_pings_of_the_public_address_from_both_sides_and_of_its_inside_address(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store);

        foreach (var (ns, target, size) in new[]
                 {
                     (network.Inside, "198.51.100.1", "56"), (network.Inside, "198.51.100.1", "4000"), (network.Inside, "10.77.0.1", "56"),
                     (network.Outside, "198.51.100.1", "56"),
                 })
        {
            var (code, output) = network.In(ns, "ping", "-c", "2", "-W", "2", "-s", size, target);
            Assert.True(code == 0, $"{ns} → {target} ({size} bytes): {output}");
            Assert.Contains("2 received", output);
        }
        Assert.Equal(0, network.Router.Counters.ConnectionsAdded);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void A_fragmented_ping_is_reassembled_translated_and_fragmented_again(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store);

        var (code, output) = network.In(network.Inside, "ping", "-c", "2", "-W", "2", "-s", "4000", "198.51.100.2");

        Assert.True(code == 0, output);
        Assert.Contains("2 received", output);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Ttl_of_one_gets_time_exceeded_from_the_router(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store);

        var (_, output) = network.In(network.Inside, "ping", "-c", "1", "-W", "2", "-t", "1", "198.51.100.2");

        Assert.Contains("From 10.77.0.1", output);
        Assert.Contains("Time to live exceeded", output);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Unsolicited_traffic_from_outside_is_dropped(string store)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(store);

        // A connection attempt to a public port nobody forwarded (pings of the public address are the router's to answer).
        var (code, _) = network.In(network.Outside, "curl", "-s", "--max-time", "2", "http://198.51.100.1:9/");

        Assert.NotEqual(0, code);
        Assert.True(network.Router.Counters.Dropped.GetValueOrDefault("no-connection") >= 1, network.Router.Counters.ToString());
        Assert.Equal(0, network.Router.Counters.SentToInside);
    }
}

/// <summary>The README's first command: the demo builds its own network, passes every step, and leaves nothing behind.</summary>
public sealed class DemoTests
{
    [SkippableFact]
    public void The_demo_passes_every_step_and_cleans_up()
    {
        string? reason = RouterNetwork.WhyNot();
        Skip.If(reason is not null, reason);
        var routerDll = typeof(PacketRouter).Assembly.Location;

        var (code, output) = RouterNetwork.Run("dotnet", routerDll, "demo");

        Assert.True(code == 0, output);
        Assert.Contains("all steps passed", output);
        Assert.DoesNotContain("natdemo", RouterNetwork.Run("ip", "netns", "list").Output);
        Assert.DoesNotContain("natdemo", RouterNetwork.Run("ip", "link").Output);
    }
}
