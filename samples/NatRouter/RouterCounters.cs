using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// Packet counters of a router: per interface, translated, connections added, store errors, and drops by reason.
/// Every count is a slot in a fixed array bumped with one interlocked add, so counting allocates nothing, whatever
/// arrives; <see cref="RouterMetrics"/> and the periodic summary read them.
/// </summary>
public sealed class RouterCounters
{
    private long _fromInside, _fromOutside, _toInside, _toOutside, _translated, _added, _storeErrors;
    private long _echoReplies, _timeExceeded, _unreachable;
    private readonly long[] _dropped = new long[DropReasons.Count];

    /// <summary>Packets read from the private interface.</summary>
    public long ReceivedFromInside => Volatile.Read(ref _fromInside);

    /// <summary>Packets read from the public interface.</summary>
    public long ReceivedFromOutside => Volatile.Read(ref _fromOutside);

    /// <summary>Packets written to the private interface.</summary>
    public long SentToInside => Volatile.Read(ref _toInside);

    /// <summary>Packets written to the public interface.</summary>
    public long SentToOutside => Volatile.Read(ref _toOutside);

    /// <summary>Packets the NAT translated.</summary>
    public long Translated => Volatile.Read(ref _translated);

    /// <summary>Connections the router opened.</summary>
    public long ConnectionsAdded => Volatile.Read(ref _added);

    /// <summary>Store operations that failed (the store was unavailable); their packets were dropped.</summary>
    public long StoreErrors => Volatile.Read(ref _storeErrors);

    /// <summary>ICMP messages the router itself sent: echo replies to pings of its addresses, and errors by type.</summary>
    public (long EchoReplies, long TimeExceeded, long DestinationUnreachable) IcmpGenerated
        => (Volatile.Read(ref _echoReplies), Volatile.Read(ref _timeExceeded), Volatile.Read(ref _unreachable));

    /// <summary>Dropped packets by reason (reasons with a count only).</summary>
    public IReadOnlyDictionary<string, long> Dropped
    {
        get
        {
            var dropped = new Dictionary<string, long>();
            for (int i = 0; i < _dropped.Length; i++)
                if (Volatile.Read(ref _dropped[i]) is var n and > 0) dropped[DropReasons.Name(i)] = n;
            return dropped;
        }
    }

    /// <summary>All dropped packets.</summary>
    public long DroppedTotal
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _dropped.Length; i++) total += Volatile.Read(ref _dropped[i]);
            return total;
        }
    }

    internal void Received(bool fromInside) => Interlocked.Increment(ref fromInside ? ref _fromInside : ref _fromOutside);

    internal void Sent(bool toInside) => Interlocked.Increment(ref toInside ? ref _toInside : ref _toOutside);

    internal void TranslatedOne() => Interlocked.Increment(ref _translated);

    internal void Added() => Interlocked.Increment(ref _added);

    internal void StoreError() => Interlocked.Increment(ref _storeErrors);

    internal void IcmpSent(IcmpType type)
    {
        if (type == IcmpType.EchoReply) Interlocked.Increment(ref _echoReplies);
        else if (type == IcmpType.TimeExceeded) Interlocked.Increment(ref _timeExceeded);
        else Interlocked.Increment(ref _unreachable);
    }

    internal void Drop(int reason) => Interlocked.Increment(ref _dropped[reason]);

    internal void Drop(PacketError error) => Drop(DropReasons.Of(error));

    internal void Drop(UntranslatedReason reason) => Drop(DropReasons.Of(reason));

    /// <inheritdoc/>
    public override string ToString()
    {
        var dropped = Dropped;
        return $"inside: received {ReceivedFromInside}, sent {SentToInside}; outside: received {ReceivedFromOutside}, sent {SentToOutside}; translated {Translated}, " +
            $"connections {ConnectionsAdded}, store errors {StoreErrors}, dropped " +
            (dropped.Count == 0 ? "0" : string.Join(", ", dropped.Select(d => $"{d.Key} {d.Value}")));
    }
}
