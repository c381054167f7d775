using System.Diagnostics;
using LiteDB;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NatFramework.Stores.LiteDb;

/// <summary>
/// A NAT table kept in one LiteDB file, so a router restarted for an upgrade or after a crash keeps every connection:
/// an open SSH session through it survives. The packet path never touches the disk — an in-memory index answers every
/// lookup — and the file is the durable copy, written by a background writer in batches (or synchronously in durable
/// mode). Each connection is one document, so both directions are always on disk together or not at all.
/// </summary>
/// <remarks>
/// <para><b>Durability window.</b> Without <see cref="LiteDbStoreOptions.Durable"/>, a crash loses at most the connections
/// acknowledged within <see cref="LiteDbStoreOptions.DurabilityWindow"/> (default 250 ms) before it, at any rate of
/// adds: the writer (<see cref="TableWriter"/>) sizes its batches from its measured speed and checkpoints LiteDB's log
/// itself, between batches, and an add waits while it is behind (answering <c>StoreUnavailable</c> if it does not catch
/// up in time). Last-activity times are written lazily.</para>
/// <para><b>Bounds.</b> At most <see cref="LiteDbStoreOptions.TcpCapacity"/> (UDP, ICMP likewise) connections per
/// protocol; a full protocol first reclaims its longest-idle connection if it expired, then its longest-idle transitory
/// TCP connection, else answers <c>TableFull</c>. Per-host limits are counted per protocol.</para>
/// <para><b>Files.</b> The file is locked for the store's lifetime (a second router on it gets an error naming it). A file
/// is written only after it was verified as a NAT table without writing to it (<see cref="OpenTableFile"/>): anything
/// else is an error naming it and stays byte for byte as it was. A failing write (a full disk) is logged, counted in
/// <see cref="WriteFailures"/> and retried at every flush, while translation goes on from memory.</para>
/// </remarks>
public sealed class LiteDbNatStore : INatStore, INatHostIndex, INatStoreStatistics, IDisposable
{
    private readonly LiteDbStoreOptions _options;
    private readonly ILogger _logger;
    private readonly OpenTableFile _file;
    private readonly TableWriter _writer;

    // Memory, under _gate (a monitor: adds wait on it while the writer is behind; the writer's pending changes are under it too).
    private readonly object _gate = new();
    private readonly ConnectionIndex _index = new();
    private readonly List<ConnectionIndex.Entry> _expiredMet = new(); // expired connections a mapping walk met, reclaimed right after (under the gate)
    private long _evicted, _expired;
    private bool _disposed;

    /// <summary>Opens (or creates) the table file and loads every connection that has not expired.</summary>
    /// <param name="options">Where the file is and how it is written; validated.</param>
    /// <param name="logger">Where open, failure and recovery messages go.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="IOException">Another process (or store) has the file open, or the path is a folder.</exception>
    /// <exception cref="UnauthorizedAccessException">The file or its folder may not be read or written.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable NAT table and <see cref="LiteDbStoreOptions.MoveAsideCorruptFile"/> is off.</exception>
    public LiteDbNatStore(LiteDbStoreOptions options, ILogger<LiteDbNatStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger<LiteDbNatStore>.Instance;
        _file = new OpenTableFile(options, _logger);
        try
        {
            Load(_file.Loaded);
            _file.Loaded.Clear();
            _writer = new TableWriter(_file, _gate, options, _logger);
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    /// <summary>Failed writes since opening (each retried at the next flush).</summary>
    public long WriteFailures => _writer.WriteFailures;

    /// <inheritdoc/>
    public NatStoreStatistics GetStatistics()
    {
        lock (_gate)
            return new(_index.CountOf(NatProtocol.Tcp), _index.CountOf(NatProtocol.Udp), _index.CountOf(NatProtocol.Icmp)) { Evicted = _evicted, Expired = _expired };
    }

    /// <summary>Connections held.</summary>
    public int Count
    {
        get { lock (_gate) return _index.Count; }
    }

    /// <summary>Connections of <paramref name="protocol"/> held.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>How many are held.</returns>
    public int CountOf(NatProtocol protocol)
    {
        lock (_gate) return _index.CountOf(protocol);
    }

    /// <summary>The most connections of <paramref name="protocol"/> the store holds.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The capacity.</returns>
    public int CapacityOf(NatProtocol protocol) => _options.CapacityFor(protocol);

    /// <summary>Puts the verified connections in memory, oldest first, and deletes those that expired while the file was closed.</summary>
    private void Load(List<NatConnection> connections)
    {
        long now = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var expired = new List<BsonValue>();
        connections.Sort((a, b) => a.LastSeen.CompareTo(b.LastSeen));
        foreach (var connection in connections)
        {
            if (_options.ExpireOnOpen is { } timeouts && connection.LastSeen < now - (long)timeouts.For(connection).TotalMilliseconds)
            {
                expired.Add(ConnectionDocument.IdOf(connection.Outbound));
                continue;
            }
            // Two documents claiming one key cannot come from this store; should it happen, the newer (later here) wins.
            while (_index.TryGet(connection.OutboundKey, out var older) || _index.TryGet(connection.ReplyKey, out older)) _index.Remove(older);
            _index.Add(connection);
        }
        foreach (var protocol in new[] { NatProtocol.Tcp, NatProtocol.Udp, NatProtocol.Icmp })
            if (_index.CountOf(protocol) > _options.CapacityFor(protocol))
                LiteDbStoreLog.OverCapacity(_logger, _file.Path, _index.CountOf(protocol), protocol, _options.CapacityFor(protocol));
        if (expired.Count == 0) return;
        _file.Delete(expired);
        LiteDbStoreLog.ExpiredWhileClosed(_logger, expired.Count, _file.Path);
    }

    // ---- memory (under _gate) ----------------------------------------------------------------------------------

    /// <summary>A live connection of an inside endpoint's mapping, or null; expired ones met on the way are reclaimed.</summary>
    private ConnectionIndex.Entry? LiveOfMapping(NatProtocol protocol, Ipv4Address address, ushort port, in ExpiryCutoffs expiry,
        out Ipv4Address publicAddress, out ushort publicPort)
    {
        var live = _index.FirstLiveOfMapping(protocol, address, port, expiry, _expiredMet, out publicAddress, out publicPort);
        ForgetExpiredMet();
        return live;
    }

    private void ForgetExpiredMet()
    {
        foreach (var entry in _expiredMet) Reclaim(entry);
        _expiredMet.Clear();
    }

    /// <inheritdoc/>
    public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping)
    {
        mapping = default;
        lock (_gate)
        {
            if (!_index.TryGetInsideOf(protocol, publicAddress, publicPort, out var inside, out ushort insidePort)) return false;
            if (LiveOfMapping(protocol, inside, insidePort, expiry, out _, out _) is null) return false;
            bool seen = _index.FirstLiveToRemote(protocol, publicAddress, publicPort, remoteAddress, expiry, _expiredMet) is not null;
            ForgetExpiredMet();
            mapping = new NatMapping(inside, insidePort, publicAddress, publicPort, seen);
            return true;
        }
    }

    /// <summary>Forgets a connection that expired, counting it.</summary>
    private void Reclaim(ConnectionIndex.Entry entry)
    {
        Forget(entry);
        _expired++;
    }

    private void Forget(ConnectionIndex.Entry entry)
    {
        _index.Remove(entry);
        _writer.Delete(entry.Connection.OutboundKey);
    }

    private static FlowDirection DirectionOf(in NatConnection connection, in FlowKey key)
        => key.Equals(connection.OutboundKey) ? FlowDirection.Outbound : FlowDirection.Reply;

    // ---- the contract ------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup)
    {
        lock (_gate)
        {
            if (_index.TryGet(key, out var entry))
            {
                if (!expiry.IsExpired(entry.Connection))
                {
                    lookup = new NatLookup(entry.Connection, DirectionOf(entry.Connection, key));
                    return true;
                }
                Reclaim(entry);
            }
        }
        lookup = default;
        return false;
    }

    /// <inheritdoc/>
    /// <exception cref="NatStoreUnavailableException">The writer is behind or failing and did not catch up within the durability window.</exception>
    public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing)
    {
        existing = default;
        var expiry = rules.Expiry;
        lock (_gate)
        {
            long waitUntil = 0;
            while (true)
            {
                if (_index.TryGet(connection.OutboundKey, out var holder))
                {
                    if (!expiry.IsExpired(holder.Connection))
                    {
                        existing = new NatLookup(holder.Connection, DirectionOf(holder.Connection, connection.OutboundKey));
                        return NatInsertStatus.OutboundTaken;
                    }
                    Reclaim(holder);
                }
                if (_index.TryGet(connection.ReplyKey, out holder))
                {
                    if (!expiry.IsExpired(holder.Connection)) return NatInsertStatus.ReplyTaken;
                    Reclaim(holder);
                }
                if ((connection.Flags & NatConnectionFlags.EndpointMapped) != 0)
                {
                    var outbound = connection.Outbound;
                    var live = LiveOfMapping(connection.Protocol, outbound.Source, outbound.SourcePort, expiry, out var publicAddress, out ushort publicPort);
                    if (live is not null && (publicAddress != connection.Translated.Source || publicPort != connection.Translated.SourcePort))
                    {
                        existing = new NatLookup(live.Connection, FlowDirection.Outbound);
                        return NatInsertStatus.MappingConflict;
                    }
                    if (_index.TryGetInsideOf(connection.Protocol, connection.Translated.Source, connection.Translated.SourcePort, out var owner, out ushort ownerPort)
                        && (owner != outbound.Source || ownerPort != outbound.SourcePort)
                        && LiveOfMapping(connection.Protocol, owner, ownerPort, expiry, out _, out _) is not null)
                        return NatInsertStatus.ReplyTaken;
                }
                if (rules.HostLimit > 0 && _index.CountOf(connection.InsideHost, connection.Protocol) >= rules.HostLimit)
                {
                    // The count includes expired connections not reclaimed yet: reclaim the host's, then count again.
                    foreach (var entry in _index.OfHost(connection.InsideHost))
                        if (entry.Connection.Protocol == connection.Protocol && expiry.IsExpired(entry.Connection)) Reclaim(entry);
                    if (_index.CountOf(connection.InsideHost, connection.Protocol) >= rules.HostLimit) return NatInsertStatus.HostLimitReached;
                }
                if (_index.CountOf(connection.Protocol) >= _options.CapacityFor(connection.Protocol) && !MakeRoom(connection.Protocol, expiry))
                    return NatInsertStatus.TableFull;
                if (_options.Durable || _writer.MayAcknowledge(ref waitUntil)) break;
            }
            _index.Add(connection);
            _writer.PutInserted(connection);
        }
        if (_options.Durable)
        {
            var inserted = connection;
            try
            {
                _writer.Flush(throwOnFailure: true);
            }
            catch (NatStoreUnavailableException)
            {
                lock (_gate)
                {
                    if (_index.TryGet(inserted.OutboundKey, out var entry)) _index.Remove(entry);
                    _writer.Forget(inserted.OutboundKey); // it never reached the file
                }
                throw;
            }
        }
        return NatInsertStatus.Inserted;
    }

    /// <summary>
    /// A full protocol makes room: its longest-idle connection if that one expired (established or transitory), else the
    /// longest-idle transitory TCP connection (RFC 7857: transitory connections give way first). False when nothing may go.
    /// </summary>
    private bool MakeRoom(NatProtocol protocol, in ExpiryCutoffs expiry)
    {
        var transitory = protocol == NatProtocol.Tcp ? _index.OldestTransitory : null;
        foreach (var candidate in new[] { _index.OldestOf(protocol), transitory })
        {
            if (candidate is not null && expiry.IsExpired(candidate.Connection))
            {
                Reclaim(candidate);
                return true;
            }
        }
        if (transitory is null) return false;
        Forget(transitory);
        _evicted++;
        return true;
    }

    /// <inheritdoc/>
    public void Touch(in FlowKey key, long now)
    {
        lock (_gate)
        {
            if (!_index.TryGet(key, out var entry)) return;
            _index.Update(entry, entry.Connection.WithLastSeen(now));
            _writer.Put(entry.Connection); // written lazily, with the next batch
        }
    }

    /// <inheritdoc/>
    /// <remarks>Written lazily like a refresh: a state lost in a crash only makes the connection's timeout the one it had before.</remarks>
    public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now)
    {
        lock (_gate)
        {
            if (!_index.TryGet(key, out var entry)) return null;
            if (entry.Connection.Flags != expected) return entry.Connection.Flags;
            _index.Update(entry, entry.Connection.WithState(flags, now));
            _writer.Put(entry.Connection);
            return expected;
        }
    }

    /// <inheritdoc/>
    public bool Remove(in FlowKey key, out NatConnection removed)
    {
        lock (_gate)
        {
            if (!_index.TryGet(key, out var entry))
            {
                removed = default;
                return false;
            }
            removed = entry.Connection;
            Forget(entry);
        }
        if (_options.Durable) _writer.Flush(throwOnFailure: true);
        return true;
    }

    /// <inheritdoc/>
    public int RemoveConnections(Ipv4Address host, List<NatConnection> removed)
    {
        int count = 0;
        lock (_gate)
        {
            foreach (var entry in _index.OfHost(host))
            {
                removed.Add(entry.Connection);
                Forget(entry);
                count++;
            }
        }
        if (_options.Durable && count > 0) _writer.Flush(throwOnFailure: true);
        return count;
    }

    /// <inheritdoc/>
    public bool Contains(in FlowKey key, in ExpiryCutoffs expiry)
    {
        lock (_gate) return _index.TryGet(key, out var entry) && !expiry.IsExpired(entry.Connection);
    }

    /// <inheritdoc/>
    public void Clear()
    {
        lock (_gate)
        {
            _index.Clear();
            _writer.Clear();
        }
        if (_options.Durable) _writer.Flush(throwOnFailure: true);
    }

    /// <inheritdoc/>
    public IEnumerable<NatConnection> Connections
    {
        get
        {
            lock (_gate) return _index.Snapshot();
        }
    }

    /// <summary>Commits every pending change now, in one transaction. <see cref="Dispose"/> calls it too.</summary>
    /// <exception cref="NatStoreUnavailableException">The file could not be written; the changes stay pending and are retried.</exception>
    public void Flush() => _writer.Flush(throwOnFailure: true);

    /// <summary>Stops the writer, writes what is pending, and closes the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _writer.Dispose();
        _file.Dispose();
    }
}
