using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NatFramework.Stores.Lru;

/// <summary>
/// One protocol's bounded NAT table. Connections live in a fixed array of structs; an open-addressing index maps
/// each of a connection's two keys to its entry; inside hosts thread doubly linked lists through the entries; a
/// CLOCK hand picks eviction victims. Nothing is allocated after construction.
/// </summary>
/// <remarks>
/// <para><b>Concurrency.</b> Writers (insert, touch, remove, clear) take one lock per table. Readers take no lock:
/// they read under a sequence counter (a seqlock) that writers make odd while they change anything, and retry
/// when the counter moved, so a lookup never sees a half-written entry or index. Readers' only store is the
/// CLOCK reference bit, a byte whose lost updates cost nothing but a slightly earlier eviction.</para>
/// <para><b>Eviction.</b> CLOCK (second chance): a lookup sets an entry's reference bit; when the table is full
/// the hand clears set bits and evicts the first entry whose bit was already clear, so a connection used since
/// the hand last passed is never evicted while an idle one remains. Expired entries are evicted first. Amortised
/// O(1): every bit the hand clears was set by a lookup.</para>
/// <para><b>Expiry.</b> Lookups treat expired entries as absent; inserts reclaim expired holders of their keys
/// and move a sweep hand two entries, so expired connections are reclaimed with bounded work per operation and no
/// background thread.</para>
/// </remarks>
internal sealed unsafe partial class ConnectionTable
{
    // 48 bytes, LastSeen first: at 8-byte alignment in every entry it is read and written whole by one instruction,
    // which lookups rely on when they refresh it without the lock (at 44 bytes every other entry split it).
    // The connection's two keys are stored as packets carry them, in FlowKey's own field order, one after the other:
    // a lookup compares key `reply` (0 or 1, from the slot) as one 8-byte and one 4-byte word at a computed offset,
    // with no branch on the direction, and a packet's new flow is the other key reversed.
    [StructLayout(LayoutKind.Sequential, Pack = 8, Size = 48)]
    internal struct Entry
    {
        public long LastSeen;
        public StoredKey Outbound; // the inside host's packets: the outbound key
        public StoredKey Reply;    // the far end's packets: the translated flow reversed
        public int HostNext, HostPrevious; // entry index + 1; HostNext is also the free-list link
        public byte Flags, Referenced, Live;
    }

    /// <summary>A flow key without its protocol (the table's), laid out like <see cref="FlowKey"/>'s first 12 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct StoredKey
    {
        public uint Source, Destination;
        public ushort SourcePort, DestinationPort;

        public StoredKey(in FlowKey key)
        {
            Source = key.Source.Value;
            Destination = key.Destination.Value;
            SourcePort = key.SourcePort;
            DestinationPort = key.DestinationPort;
        }
    }

    private const int KeysOffset = 8;      // Entry.Outbound
    private const int KeyStride = 12;      // Entry.Reply - Entry.Outbound
    private const int FlowKeyPortsOffset = 8; // FlowKey.SourcePort, DestinationPort, as in StoredKey

    // A slot: bits 0-23 entry index + 1 (0 = empty slot), bit 24 the reply direction, bits 25-28 a hash tag (a probe
    // reads an entry only when its tag matches), bits 29-31 how far the slot sits from its key's home slot (7 = 7 or
    // more). The distance lets a removal shift its neighbours back without reading their entries to rehash their keys,
    // which at a million connections was a cache miss per neighbour.
    private const uint IndexMask = 0x00FF_FFFF;
    private const int ReplyShift = 24;
    private const uint ReplyBit = 1u << ReplyShift;
    private const int TagShift = 25;
    private const uint TagMask = 0xF;
    private const int DistanceShift = 29;
    private const uint DistanceSaturated = 7;
    private const uint DistanceMask = DistanceSaturated << DistanceShift;
    private const int SweepPerInsert = 2;
    private const int PrefetchProbes = 8; // slots PrefetchEntry looks at past the home slot (half a cache line of them)

    private readonly NatProtocol _protocol;
    private readonly ulong _hashSeed;
    private readonly Entry[] _entries;
    private readonly uint[] _slots;
    private readonly Entry* _entryBase;
    private readonly uint* _slotBase;
    private readonly int _slotMask;
    private readonly uint _capacity;
    private readonly HostIndex _hosts;
    private readonly MappingIndex _mappings;
    private readonly bool _isUdp;
    // Entry indexes of TCP connections that became transitory, oldest first: when the table is full, the first still
    // transitory one makes room before any established connection is evicted. Stale indexes (no longer transitory, or
    // removed) are skipped when taken, so each index pushed costs O(1) once.
    private readonly int[] _transitory;
    private int _transitoryHead, _transitoryCount;
    private readonly Lock _lock = new();
    private int _version;
    private int _freeHead;
    private int _nextUnused;
    private int _count;
    private int _clockHand;
    private int _sweepHand;
    private long _evictions;
    private long _expirations;

    public ConnectionTable(NatProtocol protocol, int capacity, ulong hashSeed)
    {
        _protocol = protocol;
        _hashSeed = hashSeed;
        (_establishedCutoff, _anyCutoff) = protocol switch { NatProtocol.Tcp => (0, 1), NatProtocol.Udp => (2, 2), _ => (3, 3) };
        _entries = GC.AllocateArray<Entry>(capacity, pinned: true);
        // Two keys per connection at load ≤ 0.5.
        int slots = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 4));
        _slots = GC.AllocateArray<uint>(slots, pinned: true);
        _slotMask = slots - 1;
        _capacity = (uint)capacity;
        _entryBase = (Entry*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_entries));
        _slotBase = (uint*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_slots));
        _hosts = new HostIndex(capacity);
        _mappings = new MappingIndex(capacity);
        _isUdp = protocol == NatProtocol.Udp;
        _transitory = protocol == NatProtocol.Tcp ? new int[capacity] : [];
        PrefetchPays = MemoryBytes > PrefetchThresholdBytes;
        HugePages.Advise(_entryBase, (long)_entries.Length * sizeof(Entry));
        HugePages.Advise(_slotBase, (long)_slots.Length * sizeof(uint));
        // Fault every page in now: fresh pages are mapped on first touch (a 2 MiB transparent huge page is zeroed then,
        // ~0.1-0.4 ms), which would otherwise land on the packets that first reach each part of the table.
        _entries.AsSpan().Clear();
        _slots.AsSpan().Clear();
    }

    public int Capacity => _entries.Length;

    public NatProtocol Protocol => _protocol;

    /// <summary>
    /// True when the table is too big to stay in a core's cache, so batch lookups prefetch its slots and entries.
    /// A table that fits (a few thousand connections) is in cache already, and there prefetching only cost time:
    /// 1,000 flows, batch: ~55 ns per packet with it, ~47 ns without.
    /// </summary>
    public bool PrefetchPays { get; }

    private const long PrefetchThresholdBytes = 1 << 20;

    public int Count => Volatile.Read(ref _count);

    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>Idle connections reclaimed because they expired (not counted in <see cref="Evictions"/>).</summary>
    public long Expirations => Interlocked.Read(ref _expirations);

    /// <summary>Bytes this table holds (entries, key index, host index).</summary>
    public long MemoryBytes => (long)_entries.Length * sizeof(Entry) + (long)_slots.Length * sizeof(uint) + _hosts.MemoryBytes + (long)_transitory.Length * sizeof(int)
        + _mappings.MemoryBytes;
}
