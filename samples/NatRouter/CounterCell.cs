using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// One lane's share of the router's counters. Each lane counts into its own cell, so lanes on different cores never
/// write the same cache line per packet (one shared counter bumped by every core costs a line transfer per packet and
/// stops lanes from scaling); <see cref="RouterCounters"/> sums the cells when asked. The counts sit in the middle of a
/// padded array so that no neighbouring object shares their lines. A lane's cell is bumped with plain adds: a lane is
/// run by one thread at a time, and the compare-and-set that hands it from one thread to another orders the adds (an
/// interlocked add costs ~8 ns even on a line its core owns, several per packet). A shared cell, bumped by any thread,
/// adds with interlocked instructions. Readers see each count whole (aligned 64-bit loads), at worst a moment old.
/// </summary>
internal sealed class CounterCell(bool shared)
{
    // 64 bytes of padding before and after the counts (8 longs).
    private const int Padding = 8;
    internal const int FromInside = 0, FromOutside = 1, ToInside = 2, ToOutside = 3, TranslatedCount = 4, AddedCount = 5, StoreErrors = 6,
        EchoReplies = 7, TimeExceeded = 8, Unreachable = 9, FirstDrop = 10;
    private readonly long[] _counts = new long[Padding + FirstDrop + DropReasons.Count + Padding];

    /// <summary>The count at <paramref name="index"/> (one of the constants, or <see cref="FirstDrop"/> + a drop reason).</summary>
    public long this[int index] => Volatile.Read(ref _counts[Padding + index]);

    private void Bump(int index)
    {
        if (shared) Interlocked.Increment(ref _counts[Padding + index]);
        else Volatile.Write(ref _counts[Padding + index], _counts[Padding + index] + 1);
    }

    internal void Received(bool fromInside) => Bump(fromInside ? FromInside : FromOutside);

    internal void Sent(bool toInside) => Bump(toInside ? ToInside : ToOutside);

    internal void TranslatedOne() => Bump(TranslatedCount);

    internal void Added() => Bump(AddedCount);

    internal void StoreError() => Bump(StoreErrors);

    internal void IcmpSent(IcmpType type) => Bump(type == IcmpType.EchoReply ? EchoReplies : type == IcmpType.TimeExceeded ? TimeExceeded : Unreachable);

    internal void Drop(int reason) => Bump(FirstDrop + reason);

    internal void Drop(PacketError error) => Drop(DropReasons.Of(error));

    internal void Drop(UntranslatedReason reason) => Drop(DropReasons.Of(reason));
}
