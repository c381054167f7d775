namespace NatRouter.Tests;

/// <summary>The AF_XDP port's ARP cache: holding packets while a neighbor is asked for, releasing them, its bounds.</summary>
public sealed class NeighborTableTests
{
    private const uint Neighbor = 0xC6336402; // 198.51.100.2
    private const ulong NeighborMac = 0x02_00_00_00_00_02;
    private readonly List<byte[]> _released = new();

    [Fact]
    public void A_packet_for_an_unknown_neighbor_is_held_asked_for_once_a_second_and_released_in_order_when_it_answers()
    {
        var table = new NeighborTable();

        var first = table.Resolve(Neighbor, [1], now: 0, out _);
        var second = table.Resolve(Neighbor, [2], now: 500, out _);
        var third = table.Resolve(Neighbor, [3], now: 1000, out _);
        table.Learn(Neighbor, NeighborMac, now: 1100, create: false, _released);

        Assert.Equal(NeighborTable.Step.HeldAndRequest, first);
        Assert.Equal(NeighborTable.Step.Held, second);
        Assert.Equal(NeighborTable.Step.HeldAndRequest, third);
        Assert.Equal([1, 2, 3], _released.Select(p => (int)p[0]));
        Assert.Equal(NeighborTable.Step.Send, table.Resolve(Neighbor, [4], now: 1200, out ulong mac));
        Assert.Equal(NeighborMac, mac);
    }

    [Fact]
    public void Held_packets_older_than_the_hold_time_are_dropped_and_counted()
    {
        var table = new NeighborTable();
        table.Resolve(Neighbor, [1], now: 0, out _);
        table.Resolve(Neighbor, [2], now: 100, out _);

        table.Resolve(Neighbor, [3], now: (long)NeighborTable.HoldTime.TotalMilliseconds + 50, out _);
        table.Learn(Neighbor, NeighborMac, now: (long)NeighborTable.HoldTime.TotalMilliseconds + 60, create: false, _released);

        Assert.Equal([2, 3], _released.Select(p => (int)p[0]));
        Assert.Equal(1, table.Unresolved);
    }

    [Fact]
    public void A_neighbor_holds_a_few_packets_the_oldest_giving_way()
    {
        var table = new NeighborTable();

        for (int i = 0; i < NeighborTable.HeldPerNeighbor + 3; i++) table.Resolve(Neighbor, [(byte)i], now: i, out _);
        table.Learn(Neighbor, NeighborMac, now: 100, create: false, _released);

        Assert.Equal(Enumerable.Range(3, NeighborTable.HeldPerNeighbor), _released.Select(p => (int)p[0]));
        Assert.Equal(3, table.Unresolved);
    }

    [Fact]
    public void Held_packets_are_bounded_over_all_neighbors()
    {
        var table = new NeighborTable();

        for (uint i = 0; i < NeighborTable.HeldInAll; i++) table.Resolve(Neighbor + i, [1], now: 0, out _);
        var over = table.Resolve(Neighbor + NeighborTable.HeldInAll, [2], now: 0, out _);
        table.Learn(Neighbor + NeighborTable.HeldInAll, NeighborMac, now: 10, create: false, _released);

        Assert.Equal(NeighborTable.Step.HeldAndRequest, over); // asked for, but its packet could not wait
        Assert.Empty(_released);
        Assert.Equal(1, table.Unresolved);
    }

    [Fact]
    public void An_old_entry_is_used_on_while_a_request_checks_it()
    {
        var table = new NeighborTable();
        table.Learn(Neighbor, NeighborMac, now: 0, create: true, _released);
        long stale = (long)NeighborTable.ReachableTime.TotalMilliseconds + 1;

        var check = table.Resolve(Neighbor, [1], now: stale, out ulong mac);
        var meanwhile = table.Resolve(Neighbor, [2], now: stale + 10, out _);
        table.Learn(Neighbor, NeighborMac + 1, now: stale + 20, create: false, _released);
        var after = table.Resolve(Neighbor, [3], now: stale + 30, out ulong updated);

        Assert.Equal(NeighborTable.Step.SendAndRequest, check);
        Assert.Equal(NeighborMac, mac);
        Assert.Equal(NeighborTable.Step.Send, meanwhile);
        Assert.Equal(NeighborTable.Step.Send, after);
        Assert.Equal(NeighborMac + 1, updated);
    }

    [Fact]
    public void Only_an_arp_addressed_to_the_router_creates_an_entry_and_the_table_is_bounded()
    {
        var table = new NeighborTable(capacity: 4);

        table.Learn(Neighbor, NeighborMac, now: 0, create: false, _released);
        Assert.False(table.Contains(Neighbor));
        for (uint i = 0; i < 10; i++) table.Learn(Neighbor + i, NeighborMac + i, now: i, create: true, _released);

        Assert.Equal(4, table.Count);
        Assert.True(table.TryGetKnown(Neighbor + 9, out ulong newest));
        Assert.Equal(NeighborMac + 9, newest);
        Assert.False(table.Contains(Neighbor));
    }
}
