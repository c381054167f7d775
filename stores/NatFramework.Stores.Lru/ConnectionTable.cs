using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

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
internal sealed unsafe class ConnectionTable
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

    // ---- lock-free reads ----------------------------------------------------------------------------------

    /// <summary>
    /// The cutoff past which an entry of this table is live whatever its state: for TCP the transitory cutoff (later
    /// than the established one, its timeout being shorter), for UDP and ICMP their only one. A lookup compares with this
    /// alone; only an entry idle for longer than that is looked at again by <see cref="IsLiveWhenIdle"/>, which reads its
    /// state byte — in the entry's other cache line, for some entries.
    /// </summary>
    /// <remarks>
    /// Read by index (this table's field of <see cref="ExpiryCutoffs"/>), not by a switch on the protocol: the lookup is
    /// inlined into the translator's hot path, where every branch and every register counts.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long AnyStateCutoff(in ExpiryCutoffs expiry) => Unsafe.Add(ref Unsafe.As<ExpiryCutoffs, long>(ref Unsafe.AsRef(in expiry)), _anyCutoff);

    /// <summary>Whether an entry idle for longer than <see cref="AnyStateCutoff"/> is still live: an established TCP connection may be.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsLiveWhenIdle(Entry* entry, long lastSeen, in ExpiryCutoffs expiry)
        => lastSeen >= Unsafe.Add(ref Unsafe.As<ExpiryCutoffs, long>(ref Unsafe.AsRef(in expiry)), _establishedCutoff) && (entry->Flags & TransitoryFlag) == 0;

    // Indexes of this table's cutoffs in ExpiryCutoffs (Tcp, TcpTransitory, Udp, Icmp): the established one, and the one
    // past which any entry is live (TCP: the transitory cutoff, which is later since its timeout is shorter).
    private readonly int _establishedCutoff, _anyCutoff;

    private const byte TransitoryFlag = (byte)NatConnectionFlags.TcpTransitory;
    private const byte MappedFlag = (byte)NatConnectionFlags.EndpointMapped;

    private bool IsLive(ref Entry e, in ExpiryCutoffs expiry) => e.LastSeen >= expiry.For(_protocol, (NatConnectionFlags)e.Flags);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookup(in FlowKey key, ulong hash, in ExpiryCutoffs expiry, bool markUsed, out NatLookup lookup)
    {
        long live = AnyStateCutoff(expiry);
        while (true)
        {
            int version = Volatile.Read(ref _version);
            if ((version & 1) != 0)
            {
                Thread.SpinWait(1);
                continue;
            }
            Entry* entry = Find(key, hash, out uint reply);
            // The result is written straight into the caller's slot (a retry overwrites it): building it in a local
            // first made the JIT spill the connection's dozen fields to the stack, zero them, and copy them out.
            bool found = entry is not null && (entry->LastSeen >= live || IsLiveWhenIdle(entry, entry->LastSeen, expiry));
            if (found) lookup = new NatLookup(ToConnection(ref *entry), (FlowDirection)reply);
            else lookup = default;
            // x86 does not reorder loads with loads; elsewhere the data loads must complete before the recheck.
            if (!X86Base.IsSupported) Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _version) != version) continue;
            if (found && markUsed && entry->Referenced == 0) entry->Referenced = 1;
            return found;
        }
    }

    /// <summary>
    /// Looks up a key for a packet: on a hit writes only the flow the packet becomes and marks the entry used at
    /// <paramref name="now"/> (the translator then makes no Touch call). Lock-free like <see cref="TryLookup"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookupRewrite(in FlowKey key, ulong hash, long now, in ExpiryCutoffs expiry, out FlowRewrite rewrite)
    {
        long live = AnyStateCutoff(expiry);
        while (true)
        {
            int version = Volatile.Read(ref _version);
            if ((version & 1) != 0)
            {
                Thread.SpinWait(1);
                continue;
            }
            Entry* entry = Find(key, hash, out uint reply);
            long lastSeen = entry is not null ? entry->LastSeen : long.MinValue;
            bool found = entry is not null && (lastSeen >= live || IsLiveWhenIdle(entry, lastSeen, expiry));
            if (!found) rewrite = default;
            else
            {
                // The packet becomes the connection's other direction, reversed.
                StoredKey* other = (StoredKey*)((byte*)entry + KeysOffset + (1 - reply) * KeyStride);
                rewrite = new FlowRewrite(new FlowKey(_protocol, new Ipv4Address(other->Destination), other->DestinationPort,
                    new Ipv4Address(other->Source), other->SourcePort), (FlowDirection)reply);
            }
            if (!X86Base.IsSupported) Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _version) != version) continue;
            // A UDP packet from outside refreshes its flow only when the policy says so (RFC 4787 REQ-6); it is use all the same.
            if (found) MarkUsed(entry, lastSeen, reply == 0 || !_isUdp || expiry.UdpRepliesRefresh ? now : long.MinValue);
            return found;
        }
    }

    /// <summary>
    /// Refreshes an entry found by a lock-free lookup: plain stores, like the reference bit. The time only moves
    /// forward and is written only when the clock has moved (it ticks every few tens of milliseconds), so a busy
    /// flow's entry is not dirtied by every packet. Should a writer have reused the entry since the lookup, the new
    /// connection gets a last-seen time of about its creation, which it had anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MarkUsed(Entry* entry, long lastSeen, long now)
    {
        if (now > lastSeen) entry->LastSeen = now;
        if (entry->Referenced == 0) entry->Referenced = 1;
    }

    /// <summary>Prefetches the home slot of a key (first stage of a batch lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchSlot(ulong hash)
    {
        if (Sse.IsSupported) Sse.Prefetch0(_slotBase + ((int)hash & _slotMask));
    }

    /// <summary>Prefetches the entry the home slot points to (second stage of a batch lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchEntry(ulong hash)
    {
        // The entry of the first slot of the probe whose tag matches, as Find will take it. Prefetching the home slot's
        // entry regardless left every key that does not sit in its home slot a whole DRAM miss in Find: batches at a
        // million flows took 52-53 ns per packet that way, 42 ns this way (prof harness, interleaved). The probe's next
        // slots share the home slot's line, already fetched.
        uint tag = TagOf(hash), mask = (uint)_slotMask, i = (uint)hash & mask;
        uint slot = _slotBase[i];
        for (int probes = 0; slot != 0 && ((slot >> TagShift) & TagMask) != tag && probes < PrefetchProbes; probes++)
        {
            i = (i + 1) & mask;
            slot = _slotBase[i];
        }
        uint index = (slot & IndexMask) - 1;
        if (Sse.IsSupported && slot != 0 && index < _capacity)
        {
            // A 48-byte entry straddles two cache lines every other time; both are needed.
            byte* entry = (byte*)(_entryBase + index);
            Sse.Prefetch0(entry);
            Sse.Prefetch0(entry + sizeof(Entry) - 1);
        }
    }

    /// <summary>
    /// The entry holding <paramref name="key"/>, or null; <paramref name="reply"/> is 1 when it is the entry's reply key.
    /// Raw pointers, no bounds checks: a slot only ever holds an index below the capacity (checked anyway, as a reader
    /// racing a writer must not leave the table before its version recheck).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Entry* Find(in FlowKey key, ulong hash, out uint reply)
    {
        ref byte keyBytes = ref Unsafe.As<FlowKey, byte>(ref Unsafe.AsRef(in key));
        ulong addresses = Unsafe.ReadUnaligned<ulong>(ref keyBytes);
        uint ports = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref keyBytes, FlowKeyPortsOffset));
        uint tag = TagOf(hash);
        uint mask = (uint)_slotMask, i = (uint)hash & mask;
        // Bounded by the table size so that a reader racing a writer cannot loop forever before its recheck.
        for (uint probes = 0; probes <= mask; probes++)
        {
            uint slot = _slotBase[i];
            if (slot == 0) break;
            uint index = (slot & IndexMask) - 1;
            if (((slot >> TagShift) & TagMask) == tag && index < _capacity)
            {
                uint direction = (slot >> ReplyShift) & 1;
                byte* stored = (byte*)(_entryBase + index) + KeysOffset + direction * KeyStride;
                if (Unsafe.ReadUnaligned<ulong>(stored) == addresses && Unsafe.ReadUnaligned<uint>(stored + 8) == ports)
                {
                    reply = direction;
                    return _entryBase + index;
                }
            }
            i = (i + 1) & mask;
        }
        reply = 0;
        return null;
    }

    /// <summary><see cref="Find(in FlowKey, ulong, out uint)"/> for writers, as an index (-1: absent).</summary>
    private int IndexOf(in FlowKey key, ulong hash, out bool reply)
    {
        Entry* entry = Find(key, hash, out uint direction);
        reply = direction != 0;
        return entry is null ? -1 : (int)(entry - _entryBase);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private NatConnection ToConnection(ref Entry e) => new(KeyOf(ref e, reply: false), Reversed(e.Reply), e.LastSeen, (NatConnectionFlags)e.Flags);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FlowKey KeyOf(ref Entry e, bool reply)
    {
        ref StoredKey k = ref reply ? ref e.Reply : ref e.Outbound;
        return new FlowKey(_protocol, new Ipv4Address(k.Source), k.SourcePort, new Ipv4Address(k.Destination), k.DestinationPort);
    }

    private FlowKey Reversed(in StoredKey k) => new(_protocol, new Ipv4Address(k.Destination), k.DestinationPort, new Ipv4Address(k.Source), k.SourcePort);

    /// <summary>The inside host a connection belongs to (<see cref="NatConnection.InsideHost"/>): a redirect's target, else the outbound source.</summary>
    private static uint HostOf(ref Entry e) => IsRedirect(ref e) ? e.Reply.Source : e.Outbound.Source;

    private static bool IsRedirect(ref Entry e) => (e.Flags & (byte)NatConnectionFlags.Redirect) != 0;

    // ---- writes (under the lock, inside BeginWrite/EndWrite) -------------------------------------------------

    private void BeginWrite() => Interlocked.Increment(ref _version);

    private void EndWrite() => Volatile.Write(ref _version, _version + 1);

    // Not inlined: inlined into the translator's creation path, its lock region and locals made that method's frame
    // 1.8 KB, 1.5 KB of it zeroed on every call (~40 ns of a 250 ns creation).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing)
    {
        var outboundKey = connection.OutboundKey;
        var replyKey = connection.ReplyKey;
        ulong outboundHash = outboundKey.Hash64(_hashSeed), replyHash = replyKey.Hash64(_hashSeed);
        uint host = connection.InsideHost.Value;
        existing = default;
        // The insert reads both keys' home slots and the host's index slot, each likely a cache miss in a big table:
        // asked for together here, they arrive in parallel instead of one after another under the lock.
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(_slotBase + ((int)outboundHash & _slotMask));
            Sse.Prefetch0(_slotBase + ((int)replyHash & _slotMask));
            _hosts.Prefetch(host);
        }
        var expiry = rules.Expiry;
        lock (_lock)
        {
            BeginWrite();
            try
            {
                int held = IndexOf(outboundKey, outboundHash, out bool reply);
                if (held >= 0)
                {
                    if (IsLive(ref _entries[held], expiry))
                    {
                        existing = new NatLookup(ToConnection(ref _entries[held]), reply ? FlowDirection.Reply : FlowDirection.Outbound);
                        return NatInsertStatus.OutboundTaken;
                    }
                    RemoveEntry(held);
                    _expirations++;
                }
                // The endpoint's mapping before the reply key: a new flow of a live mapping is first offered a port of the
                // allocator's, and telling it the mapping's port at once spares the probe of a reply key it will not use.
                bool mapped = (connection.Flags & NatConnectionFlags.EndpointMapped) != 0;
                ulong inside = 0, publicEndpoint = 0;
                if (mapped)
                {
                    inside = MappingIndex.Endpoint(outboundKey.Source.Value, outboundKey.SourcePort);
                    publicEndpoint = MappingIndex.Endpoint(connection.Translated.Source.Value, connection.Translated.SourcePort);
                    int holder = LiveConnectionOf(inside, expiry);
                    if (holder >= 0 && _mappings.TryGetByInside(inside, out ulong mappedTo, out _) && mappedTo != publicEndpoint)
                    {
                        existing = new NatLookup(ToConnection(ref _entries[holder]), FlowDirection.Outbound);
                        return NatInsertStatus.MappingConflict;
                    }
                    if (_mappings.TryGetInsideOf(publicEndpoint, out ulong owner) && owner != inside && LiveConnectionOf(owner, expiry) >= 0)
                        return NatInsertStatus.ReplyTaken;
                }
                held = IndexOf(replyKey, replyHash, out _);
                if (held >= 0)
                {
                    if (IsLive(ref _entries[held], expiry)) return NatInsertStatus.ReplyTaken;
                    RemoveEntry(held);
                    _expirations++;
                }
                if (rules.HostLimit > 0 && _hosts.CountOf(host) >= rules.HostLimit)
                {
                    // The count includes expired connections not reclaimed yet: reclaim the host's, then count again.
                    ReclaimExpiredOf(host, expiry);
                    if (_hosts.CountOf(host) >= rules.HostLimit) return NatInsertStatus.HostLimitReached;
                }
                SweepExpired(expiry);
                int index = Allocate(expiry);
                ref Entry e = ref _entries[index];
                e.Outbound = new StoredKey(outboundKey);
                e.Reply = new StoredKey(replyKey);
                e.LastSeen = connection.LastSeen;
                e.Flags = (byte)connection.Flags;
                e.Referenced = 0;
                e.Live = 1;
                AddSlot(outboundHash, index, reply: false);
                AddSlot(replyHash, index, reply: true);
                LinkHost(index, host);
                if (mapped) _mappings.Link(index, inside, publicEndpoint, outboundKey.Destination.Value);
                _count++;
                if (connection.IsTransitory) NoteTransitory(index);
                return NatInsertStatus.Inserted;
            }
            finally
            {
                EndWrite();
            }
        }
    }

    public void Touch(in FlowKey key, long now)
    {
        ulong hash = key.Hash64(_hashSeed);
        lock (_lock)
        {
            int index = IndexOf(key, hash, out _);
            if (index < 0) return;
            // A single aligned 64-bit store: readers see the old or the new time, both valid, so no version bump.
            Volatile.Write(ref _entries[index].LastSeen, now);
            _entries[index].Referenced = 1;
        }
    }

    /// <summary>A TCP state change by compare-and-set: the entry's flags and last-seen time, and its place among the transitory ones.</summary>
    public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now)
    {
        ulong hash = key.Hash64(_hashSeed);
        lock (_lock)
        {
            int index = IndexOf(key, hash, out _);
            if (index < 0) return null;
            ref Entry e = ref _entries[index];
            if (e.Flags != (byte)expected) return (NatConnectionFlags)e.Flags;
            bool wasTransitory = (e.Flags & TransitoryFlag) != 0;
            // Two plain stores, no version bump: a reader that sees one without the other sees a recent time either way,
            // so it finds the connection live whatever state byte it reads.
            Volatile.Write(ref e.LastSeen, now);
            e.Flags = (byte)flags;
            e.Referenced = 1;
            if (!wasTransitory && (flags & NatConnectionFlags.TcpTransitory) != 0) NoteTransitory(index);
            return expected;
        }
    }

    public bool Remove(in FlowKey key, out NatConnection removed)
    {
        ulong hash = key.Hash64(_hashSeed);
        lock (_lock)
        {
            int index = IndexOf(key, hash, out _);
            if (index < 0)
            {
                removed = default;
                return false;
            }
            BeginWrite();
            removed = ToConnection(ref _entries[index]);
            RemoveEntry(index);
            EndWrite();
            return true;
        }
    }

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

    public void Clear()
    {
        lock (_lock)
        {
            BeginWrite();
            Array.Clear(_slots);
            Array.Clear(_entries, 0, _nextUnused);
            _hosts.Clear();
            _mappings.Clear();
            _freeHead = _nextUnused = _count = _clockHand = _sweepHand = _transitoryHead = _transitoryCount = 0;
            EndWrite();
        }
    }

    public void CopyConnectionsTo(List<NatConnection> destination)
    {
        lock (_lock)
        {
            for (int i = 0; i < _nextUnused; i++)
                if (_entries[i].Live != 0) destination.Add(ToConnection(ref _entries[i]));
        }
    }

    /// <summary>
    /// A live connection of <paramref name="inside"/>'s mapping (the newest live one), or -1 when it has none; expired
    /// connections met on the way are reclaimed, and the mapping goes with its last one.
    /// </summary>
    private int LiveConnectionOf(ulong inside, in ExpiryCutoffs expiry)
    {
        if (!_mappings.TryGetByInside(inside, out _, out int index)) return -1;
        while (index >= 0)
        {
            int next = _mappings.Next(index);
            if (IsLive(ref _entries[index], expiry)) return index;
            RemoveEntry(index);
            _expirations++;
            index = next;
        }
        return -1;
    }

    /// <summary>True when a live connection of <paramref name="inside"/>'s mapping goes to <paramref name="remote"/> (expired ones met are reclaimed).</summary>
    private bool HasLiveConnectionTo(ulong inside, uint remote, in ExpiryCutoffs expiry)
    {
        if (!_mappings.TryGetByInside(inside, out _, out int index)) return false;
        while (index >= 0)
        {
            int next = _mappings.Next(index);
            if (!IsLive(ref _entries[index], expiry))
            {
                RemoveEntry(index);
                _expirations++;
            }
            else if (_entries[index].Outbound.Destination == remote) return true;
            index = next;
        }
        return false;
    }

    /// <summary>The live mapping whose public endpoint is <paramref name="publicAddress"/>:<paramref name="publicPort"/> (see <see cref="INatStore.TryFindMapping"/>).</summary>
    public bool TryFindMapping(Ipv4Address publicAddress, ushort publicPort, Ipv4Address remote, in ExpiryCutoffs expiry, out NatMapping mapping)
    {
        mapping = default;
        ulong publicEndpoint = MappingIndex.Endpoint(publicAddress.Value, publicPort);
        lock (_lock)
        {
            if (!_mappings.TryGetInsideOf(publicEndpoint, out ulong inside)) return false;
            BeginWrite(); // the walks may reclaim expired connections
            try
            {
                if (LiveConnectionOf(inside, expiry) < 0) return false;
                bool seen = _mappings.ToRemote(publicEndpoint, remote.Value) > 0 && HasLiveConnectionTo(inside, remote.Value, expiry);
                mapping = new NatMapping(new Ipv4Address((uint)(inside >> 16)), (ushort)inside, publicAddress, publicPort, seen);
                return true;
            }
            finally
            {
                EndWrite();
            }
        }
    }

    private int Allocate(in ExpiryCutoffs expiry)
    {
        if (_freeHead != 0) return TakeFree();
        if (_nextUnused < _entries.Length) return _nextUnused++;

        // Full. The connection that became transitory first and still is goes first (closed, reset or never answered:
        // RFC 7857), then one by CLOCK, which takes an expired connection it passes at once. (Expired connections are
        // also reclaimed by the sweep before every insert; a longer sweep here cost a cache miss per entry in a big table.)
        int transitory = TakeTransitory();
        if (transitory >= 0)
        {
            bool expired = !IsLive(ref _entries[transitory], expiry);
            RemoveEntry(transitory);
            if (expired) _expirations++;
            else _evictions++;
            return TakeFree();
        }
        // CLOCK. Every entry is live here (free ones would be on the free list).
        while (true)
        {
            int index = _clockHand;
            _clockHand = index + 1 == _entries.Length ? 0 : index + 1;
            ref Entry e = ref _entries[index];
            bool expired = !IsLive(ref e, expiry);
            if (e.Referenced != 0 && !expired)
            {
                e.Referenced = 0;
                continue;
            }
            RemoveEntry(index);
            if (expired) _expirations++;
            else _evictions++;
            return TakeFree();
        }
    }

    /// <summary>Takes the head of the free list (an entry just removed, or one freed earlier).</summary>
    private int TakeFree()
    {
        int index = _freeHead - 1;
        _freeHead = _entries[index].HostNext;
        return index;
    }

    private void NoteTransitory(int index)
    {
        if (_transitory.Length == 0) return;
        if (_transitoryCount == _transitory.Length)
        {
            // Full of indexes, most of them stale by now: the oldest goes.
            _transitoryHead = _transitoryHead + 1 == _transitory.Length ? 0 : _transitoryHead + 1;
            _transitoryCount--;
        }
        int tail = _transitoryHead + _transitoryCount;
        _transitory[tail >= _transitory.Length ? tail - _transitory.Length : tail] = index;
        _transitoryCount++;
    }

    /// <summary>The live entry that became transitory first and still is, or -1.</summary>
    private int TakeTransitory()
    {
        while (_transitoryCount > 0)
        {
            int index = _transitory[_transitoryHead];
            _transitoryHead = _transitoryHead + 1 == _transitory.Length ? 0 : _transitoryHead + 1;
            _transitoryCount--;
            if (_entries[index].Live != 0 && (_entries[index].Flags & TransitoryFlag) != 0) return index;
        }
        return -1;
    }

    /// <summary>Removes <paramref name="host"/>'s expired connections (a walk of its list, only when it is at its limit).</summary>
    private void ReclaimExpiredOf(uint host, in ExpiryCutoffs expiry)
    {
        for (int next = _hosts.HeadOf(host); next != 0;)
        {
            int index = next - 1;
            next = _entries[index].HostNext;
            if (!IsLive(ref _entries[index], expiry))
            {
                RemoveEntry(index);
                _expirations++;
            }
        }
    }

    /// <summary>
    /// Checks the table's structure (for tests): every live entry is reachable under both keys and in its host's
    /// list, the index holds exactly two slots per live entry, and live, free and unused entries add up.
    /// </summary>
    internal void CheckInvariants()
    {
        lock (_lock)
        {
            int live = 0;
            for (int i = 0; i < _nextUnused; i++)
            {
                ref Entry e = ref _entries[i];
                if (e.Live == 0) continue;
                live++;
                for (int r = 0; r < 2; r++)
                {
                    var key = KeyOf(ref e, r == 1);
                    if (IndexOf(key, key.Hash64(_hashSeed), out bool reply) != i || reply != (r == 1))
                        throw new InvalidOperationException($"entry {i} is not found under its {(r == 1 ? "reply" : "outbound")} key");
                }
            }
            if (live != _count) throw new InvalidOperationException($"count {_count} but {live} live entries");
            int slots = 0;
            for (int position = 0; position < _slots.Length; position++)
            {
                uint slot = _slots[position];
                if (slot == 0) continue;
                slots++;
                int home = (int)KeyOf(ref _entries[(slot & IndexMask) - 1], (slot & ReplyBit) != 0).Hash64(_hashSeed) & _slotMask;
                uint expected = (uint)Math.Min((position - home) & _slotMask, (int)DistanceSaturated);
                if ((slot & DistanceMask) >> DistanceShift != expected)
                    throw new InvalidOperationException($"slot {position} records distance {(slot & DistanceMask) >> DistanceShift}, is {expected}");
            }
            if (slots != 2 * live) throw new InvalidOperationException($"{slots} slots for {live} connections");
            int free = 0;
            for (int f = _freeHead; f != 0; f = _entries[f - 1].HostNext)
            {
                if (_entries[f - 1].Live != 0) throw new InvalidOperationException("a live entry is on the free list");
                if (++free > _entries.Length) throw new InvalidOperationException("the free list loops");
            }
            if (free + live != _nextUnused) throw new InvalidOperationException($"{free} free + {live} live != {_nextUnused} used");
            int linked = 0;
            for (int i = 0; i < _nextUnused; i++)
            {
                ref Entry e = ref _entries[i];
                if (e.Live == 0) continue;
                uint host = HostOf(ref e);
                if (e.HostPrevious != 0) continue; // count each list once, from its head
                if (_hosts.HeadOf(host) != i + 1) throw new InvalidOperationException($"entry {i} has no predecessor but is not its host's head");
                int counted = 0;
                for (int n = i + 1; n != 0; n = _entries[n - 1].HostNext)
                {
                    if (++linked > live) throw new InvalidOperationException("a host list loops");
                    if (!IsRedirect(ref _entries[n - 1])) counted++;
                    int next = _entries[n - 1].HostNext;
                    if (next != 0 && _entries[next - 1].HostPrevious != n) throw new InvalidOperationException("host list links disagree");
                }
                if (_hosts.CountOf(host) != counted)
                    throw new InvalidOperationException($"host {new Ipv4Address(host)} counts {_hosts.CountOf(host)} source-NAT connections, its list holds {counted}");
            }
            if (linked != live) throw new InvalidOperationException($"{linked} entries in host lists, {live} live");
            var mapped = new Dictionary<int, (ulong Inside, ulong Public, uint Remote)>();
            for (int i = 0; i < _nextUnused; i++)
            {
                ref Entry e = ref _entries[i];
                if (e.Live != 0 && (e.Flags & MappedFlag) != 0)
                    mapped[i] = (MappingIndex.Endpoint(e.Outbound.Source, e.Outbound.SourcePort), MappingIndex.Endpoint(e.Reply.Destination, e.Reply.DestinationPort), e.Outbound.Destination);
            }
            _mappings.CheckAgainst(mapped);
        }
    }

    private void SweepExpired(in ExpiryCutoffs expiry)
    {
        if (expiry.Tcp == long.MinValue || _nextUnused == 0) return;
        for (int step = 0; step < SweepPerInsert; step++)
        {
            int index = _sweepHand;
            _sweepHand = index + 1 >= _nextUnused ? 0 : index + 1;
            if (_entries[index].Live != 0 && !IsLive(ref _entries[index], expiry))
            {
                RemoveEntry(index);
                _expirations++;
            }
        }
    }

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
    private void RemoveEntry(int index)
    {
        ref Entry e = ref _entries[index];
        RemoveSlot(index, reply: false);
        RemoveSlot(index, reply: true);
        UnlinkHost(index, HostOf(ref e));
        if ((e.Flags & MappedFlag) != 0)
            _mappings.Unlink(index, MappingIndex.Endpoint(e.Outbound.Source, e.Outbound.SourcePort), MappingIndex.Endpoint(e.Reply.Destination, e.Reply.DestinationPort),
                e.Outbound.Destination);
        e.Live = 0;
        e.Referenced = 0;
        e.HostNext = _freeHead;
        _freeHead = index + 1;
        _count--;
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
