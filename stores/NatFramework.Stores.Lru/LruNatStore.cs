using System.Runtime.CompilerServices;

namespace NatFramework.Stores.Lru;

/// <summary>
/// The embedded default NAT table: one bounded <see cref="ConnectionTable"/> per protocol, evicting whole connections
/// (both directions at once) by CLOCK, expiring idle ones lazily, with a host index and lock-free lookups.
/// Thread-safe. See <see cref="LruNatTranslator"/> for the translator generated for it.
/// </summary>
public sealed class LruNatStore : INatStore, INatBatchLookup, INatRewriteLookup, INatHostIndex
{
    private const int BatchChunk = 64;
    private readonly ConnectionTable _tcp;
    private readonly ConnectionTable _udp;
    private readonly ConnectionTable _icmp;

    /// <summary>Creates a store; all memory is allocated here.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is out of range; the message names it.</exception>
    public LruNatStore(LruStoreOptions? options = null)
    {
        options ??= new LruStoreOptions();
        options.Validate();
        _tcp = new ConnectionTable(NatProtocol.Tcp, options.TcpCapacity);
        _udp = new ConnectionTable(NatProtocol.Udp, options.UdpCapacity);
        _icmp = new ConnectionTable(NatProtocol.Icmp, options.IcmpCapacity);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ConnectionTable? TableFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcp,
        NatProtocol.Udp => _udp,
        NatProtocol.Icmp => _icmp,
        _ => null,
    };

    private ConnectionTable Table(NatProtocol protocol) => TableFor(protocol)
        ?? throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "Only TCP, UDP and ICMP connections are stored.");

    /// <summary>Connections held now for <paramref name="protocol"/>.</summary>
    public int Count(NatProtocol protocol) => Table(protocol).Count;

    /// <summary>The capacity for <paramref name="protocol"/>.</summary>
    public int Capacity(NatProtocol protocol) => Table(protocol).Capacity;

    /// <summary>Connections evicted to make room, for <paramref name="protocol"/>, since creation.</summary>
    public long Evictions(NatProtocol protocol) => Table(protocol).Evictions;

    /// <summary>Idle connections of <paramref name="protocol"/> reclaimed because they expired, since creation.</summary>
    public long Expirations(NatProtocol protocol) => Table(protocol).Expirations;

    /// <summary>Bytes allocated for all three tables.</summary>
    public long MemoryBytes => _tcp.MemoryBytes + _udp.MemoryBytes + _icmp.MemoryBytes;

    /// <summary>Slots of <paramref name="protocol"/>'s table 7 or more places from their home (for tests).</summary>
    internal int SaturatedSlots(NatProtocol protocol) => Table(protocol).SaturatedSlots();

    /// <summary>Checks every table's structure; throws when it is broken (for tests).</summary>
    internal void CheckInvariants()
    {
        _tcp.CheckInvariants();
        _udp.CheckInvariants();
        _icmp.CheckInvariants();
    }

    /// <inheritdoc/>
    // Not inlined into the translator on purpose: as its own method the table's probe loop is fully inlined here.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool TryLookup(in FlowKey key, long expiredBefore, out NatLookup lookup)
    {
        var table = TableFor(key.Protocol);
        if (table is null)
        {
            lookup = default;
            return false;
        }
        return table.TryLookup(key, key.Hash64(), expiredBefore, markUsed: true, out lookup);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool TryLookupRewrite(in FlowKey key, long now, long expiredBefore, out FlowRewrite rewrite)
    {
        var table = TableFor(key.Protocol);
        if (table is null)
        {
            rewrite = default;
            return false;
        }
        return table.TryLookupRewrite(key, key.Hash64(), now, expiredBefore, out rewrite);
    }

    /// <summary>
    /// Looks up a batch in three passes: hash every key and prefetch its home slot, then prefetch the entry each slot
    /// points to, then look up. At a million connections the cache misses of a batch overlap instead of adding up.
    /// </summary>
    public void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results)
    {
        Span<ulong> hashes = stackalloc ulong[BatchChunk];
        for (int start = 0; start < keys.Length; start += BatchChunk)
        {
            var chunk = keys.Slice(start, Math.Min(BatchChunk, keys.Length - start));
            HashAndPrefetch(chunk, hashes);
            for (int i = 0; i < chunk.Length; i++)
            {
                var key = chunk[i];
                var table = TableFor(key.Protocol);
                if (table is null || !table.TryLookup(key, hashes[i], expiry.For(key.Protocol), markUsed: true, out results[start + i]))
                    results[start + i] = default;
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>In three passes, as <see cref="LookupBatch"/>.</remarks>
    public void LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, in ExpiryCutoffs expiry, Span<FlowRewrite> results)
    {
        Span<ulong> hashes = stackalloc ulong[BatchChunk];
        for (int start = 0; start < keys.Length; start += BatchChunk)
        {
            var chunk = keys.Slice(start, Math.Min(BatchChunk, keys.Length - start));
            HashAndPrefetch(chunk, hashes);
            for (int i = 0; i < chunk.Length; i++)
            {
                var key = chunk[i];
                var table = TableFor(key.Protocol);
                if (table is null || !table.TryLookupRewrite(key, hashes[i], now, expiry.For(key.Protocol), out results[start + i]))
                    results[start + i] = default;
            }
        }
    }

    /// <summary>
    /// The first two passes of a batch: hashes, home slots prefetched, then the entries they point to; prefetching
    /// only into tables too big for the cache (<see cref="ConnectionTable.PrefetchPays"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void HashAndPrefetch(ReadOnlySpan<FlowKey> chunk, Span<ulong> hashes)
    {
        bool prefetch = false;
        for (int i = 0; i < chunk.Length; i++)
        {
            hashes[i] = chunk[i].Hash64();
            var table = TableFor(chunk[i].Protocol);
            if (table is not null && table.PrefetchPays)
            {
                table.PrefetchSlot(hashes[i]);
                prefetch = true;
            }
        }
        if (!prefetch) return;
        for (int i = 0; i < chunk.Length; i++)
        {
            var table = TableFor(chunk[i].Protocol);
            if (table is not null && table.PrefetchPays) table.PrefetchEntry(hashes[i]);
        }
    }

    /// <inheritdoc/>
    public NatInsertStatus TryInsert(in NatConnection connection, long expiredBefore, out NatLookup existing)
        => Table(connection.Protocol).TryInsert(connection, expiredBefore, out existing);

    /// <inheritdoc/>
    public void Touch(in FlowKey key, long now) => TableFor(key.Protocol)?.Touch(key, now);

    /// <inheritdoc/>
    public bool Remove(in FlowKey key, out NatConnection removed)
    {
        var table = TableFor(key.Protocol);
        if (table is null)
        {
            removed = default;
            return false;
        }
        return table.Remove(key, out removed);
    }

    /// <inheritdoc/>
    public bool Contains(in FlowKey key, long expiredBefore)
        => TableFor(key.Protocol)?.TryLookup(key, key.Hash64(), expiredBefore, markUsed: false, out _) ?? false;

    /// <inheritdoc/>
    public int RemoveConnections(Ipv4Address host, List<NatConnection> removed)
        => _tcp.RemoveConnections(host.Value, removed) + _udp.RemoveConnections(host.Value, removed) + _icmp.RemoveConnections(host.Value, removed);

    /// <inheritdoc/>
    public void Clear()
    {
        _tcp.Clear();
        _udp.Clear();
        _icmp.Clear();
    }

    /// <inheritdoc/>
    public IEnumerable<NatConnection> Connections
    {
        get
        {
            var snapshot = new List<NatConnection>();
            _tcp.CopyConnectionsTo(snapshot);
            _udp.CopyConnectionsTo(snapshot);
            _icmp.CopyConnectionsTo(snapshot);
            return snapshot;
        }
    }
}
