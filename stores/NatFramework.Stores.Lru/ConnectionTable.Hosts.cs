using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NatFramework.Stores.Lru;

// The host links threaded through the entries, and removal of a host's connections by walking them.
internal sealed unsafe partial class ConnectionTable
{
    /// <summary>Removes every connection of <paramref name="host"/>: a walk of its list, no recursion, no scan.</summary>
    /// <remarks>
    /// Compiled fully optimised at once, as is every helper it calls down to the host and mapping indexes' unlinks: it
    /// runs rarely but does a host's worth of work per call, so under tiered compilation its walk ran as unoptimised
    /// tier-0 code. With only the walk and the slot removal optimised, a process's first dozen removals (all that
    /// BenchmarkDotNet measures of a rare call) took 100-190 µs per 1,000 connections; with every helper, 57-68 µs
    /// from the second call on.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int RemoveConnections(uint host, List<NatConnection> removed)
    {
        lock (_lock)
        {
            BeginWrite();
            int count = RemoveHostList(_hosts.HeadOf(host), removed);
            EndWrite();
            return count;
        }
    }

    /// <summary>
    /// Removes the connections of the host list starting at <paramref name="head"/>, in two passes. A host's connections
    /// lie anywhere in the table, and each has two slots elsewhere again, all cache misses in a big table. The list is
    /// walked first into an array of entry indexes (the walk itself is one dependent load per entry); the removal then
    /// runs over the array with the slots of the entry <see cref="RemovalLookahead"/> places ahead already being fetched, so
    /// that many misses are in flight at once. Walking and removing in one loop could look only one entry ahead (the
    /// next is known only once the current one is read), and measured ≈ 20 % slower with the table out of the cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int RemoveHostList(int head, List<NatConnection> removed)
    {
        if (head == 0) return 0;
        var pool = System.Buffers.ArrayPool<int>.Shared;
        int[] indexes = pool.Rent(64);
        int count = 0;
        for (int at = head; at != 0; at = _entryBase[at - 1].HostNext)
        {
            if (count == indexes.Length)
            {
                int[] larger = pool.Rent(count * 2);
                indexes.AsSpan(0, count).CopyTo(larger);
                pool.Return(indexes);
                indexes = larger;
            }
            indexes[count++] = at - 1;
        }
        removed.EnsureCapacity(removed.Count + count);
        for (int i = 0; i < Math.Min(count, RemovalLookahead); i++) PrefetchSlots(indexes[i]);
        for (int i = 0; i < count; i++)
        {
            if (i + RemovalLookahead < count) PrefetchSlots(indexes[i + RemovalLookahead]);
            int index = indexes[i];
            removed.Add(ToConnection(ref _entryBase[index]));
            RemoveEntry(index); // the head of the host's list each time: unlinking touches only the next entry
        }
        pool.Return(indexes);
        return count;
    }

    /// <summary>How many entries ahead a host's removal fetches slots (2–24 measured alike; 8 leaves room for slower memory).</summary>
    private const int RemovalLookahead = 8;

    /// <summary>Starts fetching the slots of an entry's two keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchSlots(int index)
    {
        if (!Sse.IsSupported) return;
        ref Entry e = ref _entryBase[index];
        Sse.Prefetch0(_slotBase + ((int)KeyOf(ref e, reply: false).Hash64(_hashSeed) & _slotMask));
        Sse.Prefetch0(_slotBase + ((int)KeyOf(ref e, reply: true).Hash64(_hashSeed) & _slotMask));
    }

    /// <summary>Slots 7 or more places from their home, whose distance a removal reads from the entry (for tests).</summary>
    internal int SaturatedSlots()
    {
        int saturated = 0;
        foreach (uint slot in _slots) if (slot != 0 && (slot & DistanceMask) == DistanceMask) saturated++;
        return saturated;
    }

    private void LinkHost(int index, uint host)
    {
        ref Entry e = ref _entries[index];
        int head = _hosts.Push(host, index + 1, counted: !IsRedirect(ref e));
        e.HostNext = head;
        e.HostPrevious = 0;
        if (head != 0) _entries[head - 1].HostPrevious = index + 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void UnlinkHost(int index, uint host)
    {
        ref Entry e = ref _entries[index];
        bool head = e.HostPrevious == 0;
        if (!head) _entries[e.HostPrevious - 1].HostNext = e.HostNext;
        if (e.HostNext != 0) _entries[e.HostNext - 1].HostPrevious = e.HostPrevious;
        _hosts.Unlink(host, head, e.HostNext, counted: !IsRedirect(ref e));
    }
}
