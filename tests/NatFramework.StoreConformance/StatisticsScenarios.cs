using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Statistics (an optional capability): what a store tells about its table is what the table holds.
public abstract partial class NatStoreConformanceTests
{
    /// <summary>The statistics of the store behind <paramref name="nat"/> (a generated translator's <c>Store</c>).</summary>
    /// <param name="nat">A generated translator.</param>
    /// <returns>The statistics.</returns>
    protected static async Task<NatStoreStatistics> StatisticsOf(INatTranslator nat)
    {
        var store = nat.GetType().GetProperty("Store")?.GetValue(nat)
            ?? throw new InvalidOperationException($"{nat.GetType().Name} has no Store property: not a generated translator.");
        return store switch
        {
            INatStoreStatistics statistics => statistics.GetStatistics(),
            IAsyncNatStoreStatistics statistics => await statistics.GetStatisticsAsync(),
            _ => throw new InvalidOperationException($"{store.GetType().Name} is declared HasStatistics but implements neither INatStoreStatistics nor IAsyncNatStoreStatistics."),
        };
    }

    [ConformanceFact(Requires = StoreRequirement.Statistics)]
    public async Task Statistics_count_the_tables_connections_by_protocol_and_follow_removals()
    {
        var nat = NewPolicyTranslator();
        var empty = await StatisticsOf(nat);
        Assert.Equal((0, 0, 0), (empty.Tcp, empty.Udp, empty.Icmp));

        for (int i = 0; i < 3; i++) Assert.True((await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", (ushort)(5000 + i), "198.51.100.2", 53, 64))).Result.Created);
        for (int i = 0; i < 2; i++) Assert.True((await Translated(nat, Segment("10.77.0.2", (ushort)(6000 + i), "198.51.100.2", 80, TcpFlags.Syn))).Result.Created);
        Assert.True((await Translated(nat, Ipv4PacketBuilder.EchoRequest(A("10.77.0.3"), A("198.51.100.2"), 77, 1, "ping"u8))).Result.Created);

        var full = await StatisticsOf(nat);
        Assert.Equal((2, 3, 1), (full.Tcp, full.Udp, full.Icmp));

        await nat.RemoveConnectionsAsync(A("10.77.0.2"));
        var after = await StatisticsOf(nat);
        Assert.Equal((0, 0, 1), (after.Tcp, after.Udp, after.Icmp));
    }

    [ConformanceFact(Requires = StoreRequirement.Statistics | StoreRequirement.Capacity)]
    public async Task Statistics_count_connections_evicted_to_make_room()
    {
        // Lone SYNs are transitory connections, which every bounded store gives up first when its TCP table is full.
        var nat = NewPolicyTranslator(configure: o => o.TcpCapacity = 2);
        var before = await StatisticsOf(nat);
        Assert.NotNull(before.Evicted);

        for (int i = 0; i < 5; i++) Assert.True((await Translated(nat, Segment("10.77.0.2", (ushort)(6000 + i), "198.51.100.2", 80, TcpFlags.Syn))).Result.Created);

        var after = await StatisticsOf(nat);
        Assert.Equal(2, after.Tcp);
        Assert.Equal(3, after.Evicted - before.Evicted);
    }

    [ConformanceFact(Requires = StoreRequirement.Statistics | StoreRequirement.TranslatorClock)]
    public async Task Statistics_count_connections_reclaimed_because_they_expired()
    {
        var nat = NewPolicyTranslator();
        var flow = Transport(NatProtocol.Udp, "10.77.0.2", 5000, "198.51.100.2", 53, 64);
        Assert.True((await Translated(nat, flow)).Result.Created);
        var before = await StatisticsOf(nat);
        Assert.NotNull(before.Expired);

        Clock.Advance(nat.Options.UdpTimeout + TimeSpan.FromSeconds(1));
        // The flow comes back after its connection expired: the store reclaims the old one as it makes the new one.
        Assert.True((await Translated(nat, flow)).Result.Created);

        var after = await StatisticsOf(nat);
        Assert.Equal(1, after.Udp);
        Assert.True(after.Expired - before.Expired >= 1, $"expired went from {before.Expired} to {after.Expired}");
    }
}
