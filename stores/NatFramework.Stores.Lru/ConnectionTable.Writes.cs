using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NatFramework.Stores.Lru;

// Writes, under the table's lock and inside BeginWrite/EndWrite: insert, refresh, state change, removal, clear.
internal sealed unsafe partial class ConnectionTable
{
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
}
