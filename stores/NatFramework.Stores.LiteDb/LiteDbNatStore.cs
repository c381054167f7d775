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
/// adds: the writer sizes its batches from its measured speed, and an add waits while it is behind (answering
/// <c>StoreUnavailable</c> if it does not catch up in time). A writer that stalls (not scheduled, the disk not
/// answering) holds what it was given for the stall. Last-activity times are written lazily.</para>
/// <para><b>Bounds.</b> At most <see cref="LiteDbStoreOptions.TcpCapacity"/> (UDP, ICMP likewise) connections per
/// protocol; a full protocol first reclaims its longest-idle connection if it expired, then its longest-idle transitory
/// TCP connection, else answers <c>TableFull</c>. Per-host limits are counted per protocol.</para>
/// <para><b>Files.</b> The file is locked for the store's lifetime (a second router on it gets an error naming it). A file
/// is written only after it was verified as a NAT table without writing to it (<see cref="TableFileCheck"/>): anything
/// else is an error naming it and stays byte for byte as it was. A failing write (a full disk) is logged, counted in
/// <see cref="WriteFailures"/> and retried at every flush, while translation goes on from memory.</para>
/// </remarks>
public sealed class LiteDbNatStore : INatStore, INatHostIndex, INatStoreStatistics, IDisposable
{
    // A first guess at the writer's speed, corrected after every sizeable batch (this machine: 15–40 µs per document).
    private const double InitialSecondsPerDocument = 50e-6;
    private const int MinBatchLimit = 64, MaxBatchLimit = 200_000;

    private readonly LiteDbStoreOptions _options;
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly FileStream _lockFile;
    private LiteDatabase? _database;            // null after a failed write, until it is reopened
    private ILiteCollection<BsonDocument>? _collection;

    // Memory and the pending changes, under _gate (a monitor: adds wait on it while the writer is behind).
    private readonly object _gate = new();
    private readonly ConnectionIndex _index = new();
    private readonly List<ConnectionIndex.Entry> _expiredMet = new(); // expired connections a mapping walk met, reclaimed right after (under the gate)
    private Dictionary<FlowKey, NatConnection?> _pending = new(); // by outbound key: the connection to write, or null to delete
    private bool _pendingClear;
    private long _oldestPendingInsert;   // Stopwatch timestamp of the oldest acknowledged insert not taken by the writer; 0: none
    private long _committingSince;       // when the writer took the batch it is writing now; 0: idle
    private double _secondsPerDocument = InitialSecondsPerDocument;
    private bool _failing;

    private readonly Lock _writeLock = new(); // the file
    private readonly Thread _writer;
    private readonly AutoResetEvent _wakeWriter = new(false);
    private readonly CancellationTokenSource _stop = new();
    private readonly long _flushIntervalTicks, _commitBudgetTicks, _windowTicks;
    private long _writeFailures;
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
        _path = Path.GetFullPath(options.Path);
        _flushIntervalTicks = Ticks(options.FlushInterval);
        _windowTicks = Ticks(options.DurabilityWindow);
        // A batch taken when its oldest insert is one flush interval old must be written within the rest of the window;
        // half of that rest leaves room for a batch that runs slower than measured.
        _commitBudgetTicks = (_windowTicks - _flushIntervalTicks) / 2;
        if (Directory.Exists(_path))
            throw new IOException($"The NAT table path '{_path}' is a folder. Point Path at a file, for example '{Path.Combine(_path, "nat.db")}'.");
        RequireAccess();
        _lockFile = TakeLock(_path);
        try
        {
            Open();
        }
        catch
        {
            DiscardEngine();
            _lockFile.Dispose();
            throw;
        }
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "NatFramework LiteDB writer" };
        _writer.Start();
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Failed writes since opening (each retried at the next flush).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    private long _evicted, _expired; // under _gate

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

    // ---- opening -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Checks, without writing anything, that the store may read and write the file, its LiteDB log and its folder (where
    /// the lock file and the log are created), so a permission problem is reported as one — not as a damaged table.
    /// </summary>
    private void RequireAccess()
    {
        string folder = Path.GetDirectoryName(_path)!;
        try
        {
            using (new FileStream(Path.Combine(folder, $".{Path.GetFileName(_path)}.{Environment.ProcessId}.access-check"), FileMode.CreateNew,
                       FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UnauthorizedAccessException($"The folder of the NAT table file '{_path}' cannot be written ({e.Message}). The store keeps its lock " +
                $"file and LiteDB's log there: give the router's user write access to '{folder}', or choose a file in another folder.", e);
        }
        foreach (var file in new[] { _path, TableFileCheck.LogPathOf(_path) })
        {
            if (!File.Exists(file)) continue;
            try
            {
                using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
                {
                }
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new UnauthorizedAccessException($"The NAT table file '{file}' cannot be opened for reading and writing ({e.Message}). It was left " +
                    "as it is: give the router's user read and write access to it, or choose another file.", e);
            }
        }
    }

    private static FileStream TakeLock(string path)
    {
        try
        {
            // LiteDB's direct mode does not stop a second process from opening the file, so the store holds a lock
            // file of its own for as long as it is open.
            return new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The NAT table file '{path}' is in use by another router or process (its lock '{path}.lock' is held). Stop the other one or use another file.", e);
        }
    }

    /// <summary>Verifies the file (reading only), moves an unreadable one aside when asked, then opens it for writing and loads it.</summary>
    private void Open()
    {
        var connections = new List<NatConnection>();
        switch (TableFileCheck.Inspect(_path, out string why))
        {
            case TableFileKind.Missing:
                break;
            case TableFileKind.Empty:
                LiteDbStoreLog.EmptyFile(_logger, _path);
                break;
            case TableFileKind.Foreign:
                Unreadable(why, null);
                break;
            default:
                try
                {
                    connections = TableFileCheck.ReadVerified(_path);
                }
                catch (InvalidDataException e)
                {
                    Unreadable(e.Message, e);
                }
                break;
        }
        (_database, _collection) = OpenEngine();
        Load(connections);
    }

    /// <summary>Fails with the reason, or (when asked to) moves the file and its log aside untouched and carries on with an empty table.</summary>
    private void Unreadable(string why, Exception? cause)
    {
        if (!_options.MoveAsideCorruptFile)
            throw new InvalidDataException($"The NAT table file '{_path}' cannot be used: {why}. It was left as it is: restore it, point the store at " +
                "another file, or set MoveAsideCorruptFile to move it aside and start an empty table.", cause);
        string aside = $"{_path}.corrupt-{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        File.Move(_path, aside);
        string log = TableFileCheck.LogPathOf(_path);
        if (File.Exists(log)) File.Move(log, aside + "-log");
        LiteDbStoreLog.MovedAside(_logger, cause, _path, why, aside);
    }

    private (LiteDatabase, ILiteCollection<BsonDocument>) OpenEngine()
    {
        try
        {
            var database = new LiteDatabase(new ConnectionString { Filename = _path, Connection = ConnectionType.Direct });
            return (database, database.GetCollection(ConnectionDocument.CollectionName));
        }
        catch (LiteException e)
        {
            throw new IOException($"LiteDB could not open the NAT table file '{_path}' for writing: {e.Message}", e);
        }
    }

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
                LiteDbStoreLog.OverCapacity(_logger, _path, _index.CountOf(protocol), protocol, _options.CapacityFor(protocol));
        if (expired.Count == 0) return;
        _database!.BeginTrans();
        try
        {
            foreach (var id in expired) _collection!.Delete(id);
            _database.Commit();
        }
        catch
        {
            _database.Rollback();
            throw;
        }
        LiteDbStoreLog.ExpiredWhileClosed(_logger, expired.Count, _path);
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
        _pending[entry.Connection.OutboundKey] = null;
    }

    private static FlowDirection DirectionOf(in NatConnection connection, in FlowKey key)
        => key.Equals(connection.OutboundKey) ? FlowDirection.Outbound : FlowDirection.Reply;

    /// <summary>How many pending changes a batch may hold to be written within the commit budget, at the measured speed.</summary>
    private int BatchLimit => (int)Math.Clamp(_commitBudgetTicks / (double)Stopwatch.Frequency / _secondsPerDocument, MinBatchLimit, MaxBatchLimit);

    /// <summary>
    /// True when an insert acknowledged now might not reach the disk within the durability window: the writer is failing,
    /// the next batch is already as large as it can write in time, or the batch being written is taking far longer than
    /// measured.
    /// </summary>
    private bool WriterBehind() => _failing || _pending.Count >= BatchLimit
        || (_committingSince != 0 && Stopwatch.GetTimestamp() - _committingSince > 2 * _commitBudgetTicks);

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
                if (_options.Durable || !WriterBehind()) break;
                if (_failing)
                    throw new NatStoreUnavailableException($"The NAT table file '{_path}' cannot be written at the moment, so a new connection could not be " +
                        "kept; the connection was not added (established connections are still translated).");
                long now = Stopwatch.GetTimestamp();
                if (waitUntil == 0) waitUntil = now + _windowTicks;
                if (now >= waitUntil)
                    throw new NatStoreUnavailableException($"The NAT table file '{_path}' is not being written fast enough to keep new connections within the " +
                        $"durability window of {_options.DurabilityWindow.TotalMilliseconds} ms; the connection was not added.");
                _wakeWriter.Set();
                Monitor.Wait(_gate, TimeSpan.FromSeconds((waitUntil - now) / (double)Stopwatch.Frequency));
            }
            _index.Add(connection);
            _pending[connection.OutboundKey] = connection;
            if (_oldestPendingInsert == 0) _oldestPendingInsert = Stopwatch.GetTimestamp();
            if (_pending.Count >= BatchLimit) _wakeWriter.Set();
        }
        if (_options.Durable)
        {
            var inserted = connection;
            FlushOrUndo(() =>
            {
                lock (_gate)
                {
                    if (_index.TryGet(inserted.OutboundKey, out var entry)) _index.Remove(entry);
                    _pending.Remove(inserted.OutboundKey); // it never reached the file
                }
            });
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
            _pending[entry.Connection.OutboundKey] = entry.Connection; // written lazily, at the next flush
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
            _pending[entry.Connection.OutboundKey] = entry.Connection;
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
        if (_options.Durable) Flush(throwOnFailure: true);
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
        if (_options.Durable && count > 0) Flush(throwOnFailure: true);
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
            _pending.Clear();
            _pendingClear = true;
        }
        if (_options.Durable) Flush(throwOnFailure: true);
    }

    /// <inheritdoc/>
    public IEnumerable<NatConnection> Connections
    {
        get
        {
            lock (_gate) return _index.Snapshot();
        }
    }

    // ---- the writer --------------------------------------------------------------------------------------------

    private void WriteLoop()
    {
        var handles = new WaitHandle[] { _wakeWriter, _stop.Token.WaitHandle };
        while (!_stop.IsCancellationRequested)
        {
            long wait;
            bool failing;
            lock (_gate)
            {
                // Due when the oldest waiting insert is a flush interval old, or at once when the batch is as large as
                // can be written in time; touches alone wait a whole interval.
                failing = _failing;
                wait = _pending.Count >= BatchLimit ? 0
                    : _oldestPendingInsert != 0 ? _flushIntervalTicks - (Stopwatch.GetTimestamp() - _oldestPendingInsert)
                    : _flushIntervalTicks;
            }
            // A failing file is retried once per interval whatever wakes the writer: each attempt opens a new LiteDB engine.
            if (failing) _stop.Token.WaitHandle.WaitOne(_options.FlushInterval);
            else if (wait > 0) WaitHandle.WaitAny(handles, TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency));
            if (_stop.IsCancellationRequested) break;
            Flush(throwOnFailure: false);
        }
    }

    /// <summary>Commits every pending change now, in one transaction. <see cref="Dispose"/> calls it too.</summary>
    /// <exception cref="NatStoreUnavailableException">The file could not be written; the changes stay pending and are retried.</exception>
    public void Flush() => Flush(throwOnFailure: true);

    private void FlushOrUndo(Action undo)
    {
        try
        {
            Flush(throwOnFailure: true);
        }
        catch (NatStoreUnavailableException)
        {
            undo();
            throw;
        }
    }

    private void Flush(bool throwOnFailure)
    {
        lock (_writeLock)
        {
            Dictionary<FlowKey, NatConnection?> batch;
            bool clear;
            long oldestInsert;
            lock (_gate)
            {
                if (_pending.Count == 0 && !_pendingClear) return;
                batch = _pending;
                clear = _pendingClear;
                oldestInsert = _oldestPendingInsert;
                _pending = new Dictionary<FlowKey, NatConnection?>();
                _pendingClear = false;
                _oldestPendingInsert = 0;
                _committingSince = Stopwatch.GetTimestamp();
                Monitor.PulseAll(_gate); // room for the adds that waited
            }
            long started = Stopwatch.GetTimestamp();
            try
            {
                if (_database is null || _collection is null)
                {
                    // A failed write leaves LiteDB with a half-done transaction holding its locks: start a fresh engine,
                    // which recovers the file from its log, and write the whole batch again.
                    (_database, _collection) = OpenEngine();
                }
                _database.BeginTrans();
                if (clear) _collection.DeleteAll();
                foreach (var (outbound, connection) in batch)
                {
                    if (connection is { } write) _collection.Upsert(ConnectionDocument.From(write));
                    else _collection.Delete(ConnectionDocument.IdOf(outbound));
                }
                _database.Commit();
                lock (_gate)
                {
                    Measured(batch.Count, Stopwatch.GetTimestamp() - started);
                    _committingSince = 0;
                    if (_failing)
                    {
                        _failing = false;
                        LiteDbStoreLog.WritingAgain(_logger, _path);
                    }
                    Monitor.PulseAll(_gate);
                }
            }
            catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
            {
                // Roll back on this thread first: LiteDB binds a transaction to the thread that began it, and one left
                // open is finalized later with an exception on the finalizer thread, which ends the process.
                if (!RollBack()) DiscardEngine();
                Interlocked.Increment(ref _writeFailures);
                bool first;
                lock (_gate)
                {
                    // Put the batch back under anything newer, to be retried at the next flush.
                    foreach (var (outbound, connection) in batch) _pending.TryAdd(outbound, connection);
                    _pendingClear |= clear;
                    if (oldestInsert != 0 && (_oldestPendingInsert == 0 || oldestInsert < _oldestPendingInsert)) _oldestPendingInsert = oldestInsert;
                    _committingSince = 0;
                    first = !_failing;
                    _failing = true;
                }
                if (first) LiteDbStoreLog.WriteFailed(_logger, e, _path);
                if (throwOnFailure) throw new NatStoreUnavailableException($"Writing the NAT table file '{_path}' failed: {e.Message}", e);
            }
        }
    }

    /// <summary>Updates the writer's measured speed after a batch of <paramref name="documents"/> took <paramref name="ticks"/>.</summary>
    private void Measured(int documents, long ticks)
    {
        if (documents == 0) return;
        double seconds = ticks / (double)Stopwatch.Frequency;
        // Small batches are mostly the commit's fixed cost (a journal flush) and would make documents look dear.
        if (documents < MinBatchLimit && ticks <= _commitBudgetTicks) return;
        double perDocument = seconds / documents;
        // Slower at once (the window is at stake), faster gradually.
        _secondsPerDocument = perDocument > _secondsPerDocument ? perDocument : 0.7 * _secondsPerDocument + 0.3 * perDocument;
    }

    private bool RollBack()
    {
        try
        {
            _database?.Rollback();
            return _database is not null;
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            LiteDbStoreLog.RollbackFailed(_logger, e, _path);
            return false;
        }
    }

    private void DiscardEngine()
    {
        if (_database is not null) ReleaseFailedTransactions(_database);
        try
        {
            _database?.Dispose();
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            LiteDbStoreLog.CloseFailed(_logger, e, _path);
        }
        _database = null;
        _collection = null;
    }

    /// <summary>
    /// Lets go of the transactions of an engine about to be thrown away. LiteDB 5 disposes a transaction that nobody
    /// disposed from its finalizer, and that dispose throws when the transaction still holds dirty pages of a failed write —
    /// on the finalizer thread, which ends the process (seen in CI after a full disk, even with a rollback: a rollback can
    /// fail too); so its transactions are told not to finalize (the file is recovered from its log by the next engine
    /// anyway). And the engine keeps the current transaction in a <see cref="ThreadLocal{T}"/> it never disposes: on the
    /// writer thread, which lives on, that slot kept every failed engine reachable — its caches and its file handles,
    /// ≈ 120 KB and one descriptor per retry of a full disk, 20 retries a second — so the slot is disposed here.
    /// LiteDB offers no API for either, so both go through its private fields (checked against 5.0.21); if they are not
    /// found nothing happens.
    /// </summary>
    private void ReleaseFailedTransactions(LiteDatabase database)
    {
        const System.Reflection.BindingFlags Private = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic;
        try
        {
            object? engine = typeof(LiteDatabase).GetField("_engine", Private)?.GetValue(database);
            object? monitor = engine?.GetType().GetField("_monitor", Private)?.GetValue(engine);
            if (monitor?.GetType().GetField("_transactions", Private)?.GetValue(monitor) is not System.Collections.IDictionary transactions) return;
            lock (transactions) // what LiteDB locks when it adds or removes one
            {
                foreach (var transaction in transactions.Values) GC.SuppressFinalize(transaction);
            }
            (monitor.GetType().GetField("_slot", Private)?.GetValue(monitor) as IDisposable)?.Dispose();
        }
        catch (Exception e) when (e is FieldAccessException or InvalidOperationException or ArgumentException)
        {
            LiteDbStoreLog.TransactionsUnreachable(_logger, e, _path);
        }
    }

    /// <summary>Stops the writer, writes what is pending, and closes the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        _writer.Join();
        Flush(throwOnFailure: false);
        DiscardEngine();
        _lockFile.Dispose();
        _stop.Dispose();
        _wakeWriter.Dispose();
    }
}
