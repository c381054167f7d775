using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// Packet counters of a router: per interface, translated, connections added, store errors, and drops by reason.
/// Every lane counts into its own <see cref="CounterCell"/> (a fixed array bumped with one interlocked add), so counting
/// allocates nothing, whatever arrives, and lanes on different cores do not contend; the properties sum the cells when
/// <see cref="RouterMetrics"/> or the periodic summary read them.
/// </summary>
public sealed class RouterCounters
{
    // Cell 0 counts what happens outside any lane; a lane adds its own with NewCell. Copied on write: readers sum a
    // snapshot without a lock.
    private CounterCell[] _cells = [new(shared: true)];
    private readonly Lock _adding = new();

    /// <summary>Packets read from the private interface.</summary>
    public long ReceivedFromInside => Sum(CounterCell.FromInside);

    /// <summary>Packets read from the public interface.</summary>
    public long ReceivedFromOutside => Sum(CounterCell.FromOutside);

    /// <summary>Packets written to the private interface.</summary>
    public long SentToInside => Sum(CounterCell.ToInside);

    /// <summary>Packets written to the public interface.</summary>
    public long SentToOutside => Sum(CounterCell.ToOutside);

    /// <summary>Packets the NAT translated.</summary>
    public long Translated => Sum(CounterCell.TranslatedCount);

    /// <summary>Connections the router opened.</summary>
    public long ConnectionsAdded => Sum(CounterCell.AddedCount);

    /// <summary>Store operations that failed (the store was unavailable); their packets were dropped.</summary>
    public long StoreErrors => Sum(CounterCell.StoreErrors);

    /// <summary>ICMP messages the router itself sent: echo replies to pings of its addresses, and errors by type.</summary>
    public (long EchoReplies, long TimeExceeded, long DestinationUnreachable) IcmpGenerated
        => (Sum(CounterCell.EchoReplies), Sum(CounterCell.TimeExceeded), Sum(CounterCell.Unreachable));

    /// <summary>Dropped packets by reason (reasons with a count only).</summary>
    public IReadOnlyDictionary<string, long> Dropped
    {
        get
        {
            var dropped = new Dictionary<string, long>();
            for (int i = 0; i < DropReasons.Count; i++)
                if (Sum(CounterCell.FirstDrop + i) is var n and > 0) dropped[DropReasons.Name(i)] = n;
            return dropped;
        }
    }

    /// <summary>All dropped packets.</summary>
    public long DroppedTotal
    {
        get
        {
            long total = 0;
            for (int i = 0; i < DropReasons.Count; i++) total += Sum(CounterCell.FirstDrop + i);
            return total;
        }
    }

    /// <summary>A cell for one more lane to count into (run by one thread at a time).</summary>
    internal CounterCell NewCell()
    {
        var cell = new CounterCell(shared: false);
        lock (_adding) _cells = [.. _cells, cell];
        return cell;
    }

    /// <summary>Packets read from the private interface by each lane, in the order the lanes were made (for tests).</summary>
    internal IReadOnlyList<long> ReceivedFromInsideByLane
    {
        get
        {
            var cells = Volatile.Read(ref _cells);
            // Cell 0 is no lane's; a lane has two cells (outbound, then inbound), the outbound one reads from inside.
            return [.. cells.Skip(1).Where((_, i) => i % 2 == 0).Select(c => c[CounterCell.FromInside])];
        }
    }

    private long Sum(int index)
    {
        long total = 0;
        foreach (var cell in Volatile.Read(ref _cells)) total += cell[index];
        return total;
    }

    internal void Drop(int reason) => _cells[0].Drop(reason);

    internal void Drop(PacketError error) => _cells[0].Drop(error);

    /// <inheritdoc/>
    public override string ToString()
    {
        var dropped = Dropped;
        return $"inside: received {ReceivedFromInside}, sent {SentToInside}; outside: received {ReceivedFromOutside}, sent {SentToOutside}; translated {Translated}, " +
            $"connections {ConnectionsAdded}, store errors {StoreErrors}, dropped " +
            (dropped.Count == 0 ? "0" : string.Join(", ", dropped.Select(d => $"{d.Key} {d.Value}")));
    }
}
