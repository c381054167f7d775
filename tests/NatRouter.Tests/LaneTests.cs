using NatFramework;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatRouter.Tests;

/// <summary>
/// A router over interfaces with several queues: each queue pair is a lane with its own thread. In memory (a lane
/// writes to its own pair, replies may come back on any queue) and over real multi-queue TUN devices (root), where the
/// kernel spreads flows over the queues by their hash.
/// </summary>
public sealed class LaneTests
{
    private static readonly Ipv4Address Client = Ipv4Address.Parse("10.77.0.2");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    [Fact]
    public void Each_queue_pair_is_a_lane_and_a_reply_on_another_queue_is_translated_there()
    {
        MemoryPort[] inside = [new(), new()], outside = [new(), new()];
        var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24"));
        using var router = new PacketRouter(LruNatTranslator.Create(new NatOptions { PublicAddress = Public, Policy = settings.Policy }), settings, inside, outside);
        Assert.Equal(2, router.Lanes);
        router.Start();

        inside[0].Inject(Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, new byte[8]));
        inside[1].Inject(Ipv4PacketBuilder.Udp(Client, 5001, Server, 53, new byte[8]));
        Assert.True(SpinWait.SpinUntil(() => outside[0].WrittenCount == 1 && outside[1].WrittenCount == 1, TimeSpan.FromSeconds(10)), router.Counters.ToString());
        ushort first = SourcePort(outside[0].TakeWritten()!), second = SourcePort(outside[1].TakeWritten()!);
        Assert.NotEqual(first, second);

        // The kernel hashes a reply on its own: the first flow's reply arrives on the second queue, and goes back in there.
        outside[1].Inject(Ipv4PacketBuilder.Udp(Server, 53, Public, first, new byte[8]));
        Assert.True(SpinWait.SpinUntil(() => inside[1].WrittenCount == 1, TimeSpan.FromSeconds(10)), router.Counters.ToString());
        Assert.Equal(5000, DestinationPort(inside[1].TakeWritten()!));
        Assert.Equal(0, inside[0].WrittenCount);

        Assert.Equal(3, router.Counters.Translated);
        Assert.Equal(2, router.Counters.ConnectionsAdded);
        Assert.Equal([1L, 1L], router.Counters.ReceivedFromInsideByLane);
    }

    [Fact]
    public void Interfaces_with_different_numbers_of_queues_are_refused()
    {
        var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24"));
        var nat = LruNatTranslator.Create(new NatOptions { PublicAddress = Public, Policy = settings.Policy });
        var e = Assert.Throws<ArgumentException>(() => new PacketRouter(nat, settings, [new MemoryPort(), new MemoryPort()], [new MemoryPort()]));
        Assert.Contains("same number of queues", e.Message);
        Assert.Throws<ArgumentException>(() => new PacketRouter(nat, settings, [], []));
    }

    [SkippableFact]
    public void A_multi_queue_router_spreads_connections_over_its_lanes_and_every_one_works()
    {
        string? reason = RouterNetwork.WhyNot();
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(queues: 2);
        AssertConnectionsSpreadOverTwoLanes(network);
    }

    /// <summary>
    /// 200 connections at once, an HTTP download and pings through a two-lane router; every one works and both lanes
    /// carried a share (the interfaces hand each flow to a queue by its hash).
    /// </summary>
    internal static void AssertConnectionsSpreadOverTwoLanes(RouterNetwork network)
    {
        network.StartHelper(network.Outside, "helper-tcp-echo", "198.51.100.2", "7000");
        network.StartHelper(network.Outside, "helper-http-serve", "198.51.100.2", "8000", "2000000");

        var (code, output) = network.Helper(network.Inside, "helper-tcp-many", "198.51.100.2", "7000", "200");
        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("200 of 200", output);
        (code, output) = network.Helper(network.Inside, "helper-http-get", "198.51.100.2", "8000", "2000000");
        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("every byte as sent", output);
        (code, output) = network.In(network.Inside, "ping", "-c", "3", "-W", "2", "198.51.100.2");
        Assert.True(code == 0, output);

        // 200 connections hashed over two queues: both lanes carried a share (all on one would be odds of 2^-199).
        var perLane = network.Router.Counters.ReceivedFromInsideByLane;
        Assert.Equal(2, perLane.Count);
        Assert.All(perLane, n => Assert.True(n > 100, $"packets per lane: {string.Join(", ", perLane)}"));
        Assert.Equal(0, network.Router.Counters.DroppedTotal);
    }

    private static ushort SourcePort(byte[] packet) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(20));

    private static ushort DestinationPort(byte[] packet) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(22));
}
