using System.Runtime.CompilerServices;

namespace NatFramework.Stores.Lru;

/// <summary>
/// Open-addressing map from an inside host to the head of its connection list (entry index + 1; the list itself is
/// threaded through the entries) and how many of the list's connections are source NAT (for per-host limits: a port
/// forward's connections take no port of the public address, so they neither count nor are limited). Sized up front for one
/// host per connection at load ≤ 0.5, so it never grows. Not thread-safe: the owning table's writer lock guards it.
/// </summary>
/// <remarks>
/// A slot's host, head and count sit together (16 bytes, four to a cache line): every removal of a connection updates
/// its host's count, and in a big table each probe that touched three arrays was three cache misses.
/// </remarks>
internal sealed class HostIndex
{
    private struct Slot
    {
        public uint Host;
        public int Head; // 0 marks an empty slot
        public int Count;
        private readonly int _padding; // 16 bytes: a slot never straddles a cache line
    }

    private readonly Slot[] _slots;
    private readonly int _mask;

    public HostIndex(int capacity)
    {
        int size = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2));
        _slots = GC.AllocateArray<Slot>(size, pinned: true);
        _mask = size - 1;
        _slots.AsSpan().Clear(); // fault the pages in now (see ConnectionTable)
    }

    /// <summary>Bytes the index holds.</summary>
    public unsafe long MemoryBytes => (long)_slots.Length * sizeof(Slot);

    /// <summary>How many source-NAT connections <paramref name="host"/>'s list holds (expired ones not yet reclaimed included).</summary>
    public int CountOf(uint host)
    {
        int i = Find(host);
        return i < 0 ? 0 : _slots[i].Count;
    }

    private static int Home(uint host, int mask) => (int)((host * 0x9E3779B1u) >> 7) & mask;

    /// <summary>Starts fetching <paramref name="host"/>'s home slot into the cache.</summary>
    public unsafe void Prefetch(uint host)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref _slots[Home(host, _mask)]));
    }

    /// <summary>The head of <paramref name="host"/>'s list, 0 when it has none.</summary>
    public int HeadOf(uint host)
    {
        int i = Find(host);
        return i < 0 ? 0 : _slots[i].Head;
    }

    /// <summary>
    /// Makes <paramref name="head"/> (not 0) the head of <paramref name="host"/>'s list, one connection longer (counted when
    /// <paramref name="counted"/>), and returns the previous head (0 when the host had none): one probe where a lookup then
    /// an update made two.
    /// </summary>
    public int Push(uint host, int head, bool counted)
    {
        int add = counted ? 1 : 0;
        int i = Home(host, _mask);
        while (_slots[i].Head != 0)
        {
            ref Slot slot = ref _slots[i];
            if (slot.Host == host)
            {
                int previous = slot.Head;
                slot.Head = head;
                slot.Count += add;
                return previous;
            }
            i = (i + 1) & _mask;
        }
        ref Slot empty = ref _slots[i];
        empty.Host = host;
        empty.Head = head;
        empty.Count = add;
        return 0;
    }

    /// <summary>
    /// Records that one of <paramref name="host"/>'s connections left its list; when it was the head, <paramref name="next"/>
    /// is the new head. The host goes when its last connection does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Unlink(uint host, bool wasHead, int next, bool counted)
    {
        int i = Find(host);
        if (i < 0) return;
        ref Slot slot = ref _slots[i];
        if (counted) slot.Count--;
        if (!wasHead) return;
        if (next == 0) Delete(i); // the head had no successor: the list is empty
        else slot.Head = next;
    }

    public void Clear() => Array.Clear(_slots);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Find(uint host)
    {
        int i = Home(host, _mask);
        while (_slots[i].Head != 0)
        {
            if (_slots[i].Host == host) return i;
            i = (i + 1) & _mask;
        }
        return -1;
    }

    /// <summary>Backward-shift deletion: no tombstones, so probe sequences stay short however long the store runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Delete(int hole)
    {
        int j = hole;
        while (true)
        {
            j = (j + 1) & _mask;
            if (_slots[j].Head == 0) break;
            int home = Home(_slots[j].Host, _mask);
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                _slots[hole] = _slots[j];
                hole = j;
            }
        }
        _slots[hole] = default;
    }
}
