using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NatFramework.Stores.Lru;

// Lock-free reads: lookups under the table's sequence counter, the rewrite lookup, a batch's prefetches and the probe.
internal sealed unsafe partial class ConnectionTable
{
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
}
