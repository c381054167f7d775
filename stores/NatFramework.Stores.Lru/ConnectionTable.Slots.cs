using System.Runtime.CompilerServices;

namespace NatFramework.Stores.Lru;

// The probe table: slot encoding (entry index, direction, hash tag, distance from home), insertion and backward-shift deletion.
internal sealed unsafe partial class ConnectionTable
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint TagOf(ulong hash) => (uint)(hash >> 60);

    private static uint WithDistance(uint slot, int distance) => (slot & ~DistanceMask) | (uint)Math.Min(distance, (int)DistanceSaturated) << DistanceShift;

    private void AddSlot(ulong hash, int index, bool reply)
    {
        int home = (int)hash & _slotMask, i = home;
        while (_slots[i] != 0) i = (i + 1) & _slotMask;
        _slots[i] = WithDistance(TagOf(hash) << TagShift | (reply ? ReplyBit : 0) | (uint)(index + 1), (i - home) & _slotMask);
    }

    /// <summary>How far the slot at <paramref name="position"/> is from its key's home: from the slot, or from the entry when it saturated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int DistanceFromHome(uint slot, int position)
    {
        uint stored = (slot & DistanceMask) >> DistanceShift;
        if (stored < DistanceSaturated) return (int)stored;
        int home = (int)KeyOf(ref _entries[(slot & IndexMask) - 1], (slot & ReplyBit) != 0).Hash64(_hashSeed) & _slotMask;
        return (position - home) & _slotMask;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RemoveSlot(int index, bool reply)
    {
        uint wanted = (uint)(index + 1) | (reply ? ReplyBit : 0);
        int i = (int)KeyOf(ref _entries[index], reply).Hash64(_hashSeed) & _slotMask;
        while ((_slots[i] & (IndexMask | ReplyBit)) != wanted) i = (i + 1) & _slotMask;
        // Backward-shift deletion keeps probe sequences as short as if the key had never been there.
        int hole = i, j = i;
        while (true)
        {
            j = (j + 1) & _slotMask;
            uint slot = _slots[j];
            if (slot == 0) break;
            int distance = DistanceFromHome(slot, j), shift = (j - hole) & _slotMask;
            if (distance >= shift)
            {
                _slots[hole] = WithDistance(slot, distance - shift);
                hole = j;
            }
        }
        _slots[hole] = 0;
    }
}
