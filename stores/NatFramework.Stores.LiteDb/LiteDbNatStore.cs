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
/// <para><b>Durability window.</b> Without <see cref="LiteDbStoreOptions.Durable"/>, a change is on disk within
/// <see cref="LiteDbStoreOptions.FlushInterval"/> (default 100 ms) plus the time of the write itself; a crash loses at
/// most that window. Last-activity times are written lazily, at the next flush after a refresh.</para>
/// <para><b>Failures.</b> The file is locked for the store's lifetime (a second router on it gets an error naming it).
/// An unreadable file is an error naming it, never silently replaced. A failing write (a full disk) is logged, counted
/// in <see cref="WriteFailures"/> and retried at every flush, while translation goes on from memory.</para>
/// </remarks>
public sealed class LiteDbNatStore : INatStore, INatHostIndex, IDisposable
{
    private const string CollectionName = "connections";
    private readonly int[] _countByProtocol = new int[3];
    private readonly LiteDbStoreOptions _options;
    private readonly ILogger _logger;
    private readonly FileStream _lockFile;
    private readonly string _path;
    private LiteDatabase? _database;            // null after a failed write, until it is reopened
    private ILiteCollection<BsonDocument>? _collection;
    private readonly Dictionary<FlowKey, NatConnection> _byKey = new();
    private readonly Dictionary<Ipv4Address, HashSet<FlowKey>> _byHost = new();
    private readonly Lock _lock = new();   // memory and the pending changes
    private readonly Lock _writeLock = new(); // the file
    private Dictionary<FlowKey, NatConnection?> _pending = new(); // by outbound key: the connection to write, or null to delete
    private bool _pendingClear;
    private readonly Thread _writer;
    private readonly CancellationTokenSource _stop = new();
    private long _writeFailures;
    private bool _failing;
    private bool _disposed;

    /// <summary>Opens (or creates) the table file and loads every connection that has not expired.</summary>
    /// <exception cref="IOException">Another process (or store) has the file open.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable NAT table and <see cref="LiteDbStoreOptions.MoveAsideCorruptFile"/> is off.</exception>
    public LiteDbNatStore(LiteDbStoreOptions options, ILogger<LiteDbNatStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger<LiteDbNatStore>.Instance;
        string path = Path.GetFullPath(options.Path);
        _path = path;
        _lockFile = TakeLock(path);
        try
        {
            (_database, _collection) = OpenAndLoad(path);
        }
        catch
        {
            _lockFile.Dispose();
            throw;
        }
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "NatFramework LiteDB writer" };
        _writer.Start();
    }

    /// <summary>Failed writes since opening (each retried at the next flush).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Connections held.</summary>
    public int Count
    {
        get { lock (_lock) return _byKey.Count / 2; }
    }

    /// <summary>Connections of <paramref name="protocol"/> held.</summary>
    public int CountOf(NatProtocol protocol)
    {
        lock (_lock) return _countByProtocol[ProtocolSlot(protocol)];
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

    private (LiteDatabase, ILiteCollection<BsonDocument>) OpenAndLoad(string path)
    {
        try
        {
            return Load(path);
        }
        catch (Exception e) when (e is not IOException || e is LiteException)
        {
            if (!_options.MoveAsideCorruptFile)
                throw new InvalidDataException($"The NAT table file '{path}' cannot be read ({e.GetType().Name}: {e.Message}). It was left as it is: restore it, or set MoveAsideCorruptFile to move it aside and start an empty table.", e);
            string aside = $"{path}.corrupt-{DateTime.UtcNow:yyyyMMddHHmmss}";
            File.Move(path, aside);
            if (File.Exists(path[..^Path.GetExtension(path).Length] + "-log" + Path.GetExtension(path)))
                File.Move(path[..^Path.GetExtension(path).Length] + "-log" + Path.GetExtension(path), aside + "-log");
            _logger.LogError(e, "NAT table file {Path} could not be read; moved it to {Aside} and started an empty table", path, aside);
            _byKey.Clear();
            Array.Clear(_countByProtocol);
            _byHost.Clear();
            return Load(path);
        }
    }

    private (LiteDatabase, ILiteCollection<BsonDocument>) Load(string path)
    {
        var database = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct });
        try
        {
            var collection = database.GetCollection(CollectionName);
            long now = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            var expired = new List<BsonValue>();
            foreach (var document in collection.FindAll())
            {
                var connection = FromDocument(document);
                if (_options.ExpireOnOpen is { } timeouts && connection.LastSeen < now - (long)timeouts.For(connection.Protocol).TotalMilliseconds)
                {
                    expired.Add(document["_id"]);
                    continue;
                }
                AddToMemory(connection);
            }
            if (expired.Count > 0)
            {
                database.BeginTrans();
                try
                {
                    foreach (var id in expired) collection.Delete(id);
                    database.Commit();
                }
                catch
                {
                    database.Rollback();
                    throw;
                }
                _logger.LogInformation("Dropped {Count} connections that expired while {Path} was closed", expired.Count, path);
            }
            return (database, collection);
        }
        catch
        {
            SuppressTransactionFinalizers(database);
            database.Dispose();
            throw;
        }
    }

    private static BsonDocument ToDocument(in NatConnection connection)
    {
        var outbound = new byte[FlowKey.EncodedLength];
        var translated = new byte[FlowKey.EncodedLength];
        connection.Outbound.WriteTo(outbound);
        connection.Translated.WriteTo(translated);
        return new BsonDocument { ["_id"] = outbound, ["t"] = translated, ["s"] = connection.LastSeen, ["f"] = (int)connection.Flags };
    }

    private static NatConnection FromDocument(BsonDocument document) => new(
        FlowKey.Read(document["_id"].AsBinary), FlowKey.Read(document["t"].AsBinary), document["s"].AsInt64, (NatConnectionFlags)document["f"].AsInt32);

    private static BsonValue IdOf(in FlowKey outbound)
    {
        var bytes = new byte[FlowKey.EncodedLength];
        outbound.WriteTo(bytes);
        return new BsonValue(bytes);
    }

    // ---- memory (under _lock) ----------------------------------------------------------------------------------

    private void AddToMemory(in NatConnection connection)
    {
        if (!_byKey.ContainsKey(connection.OutboundKey)) _countByProtocol[ProtocolSlot(connection.Protocol)]++;
        _byKey[connection.OutboundKey] = connection;
        _byKey[connection.ReplyKey] = connection;
        if (!_byHost.TryGetValue(connection.InsideHost, out var keys)) _byHost[connection.InsideHost] = keys = new HashSet<FlowKey>();
        keys.Add(connection.OutboundKey);
    }

    private void RemoveFromMemory(in NatConnection connection)
    {
        if (_byKey.Remove(connection.OutboundKey)) _countByProtocol[ProtocolSlot(connection.Protocol)]--;
        _byKey.Remove(connection.ReplyKey);
        if (_byHost.TryGetValue(connection.InsideHost, out var keys) && keys.Remove(connection.OutboundKey) && keys.Count == 0)
            _byHost.Remove(connection.InsideHost);
        _pending[connection.OutboundKey] = null;
    }

    private static int ProtocolSlot(NatProtocol protocol) => protocol switch { NatProtocol.Tcp => 0, NatProtocol.Udp => 1, _ => 2 };

    private static FlowDirection DirectionOf(in NatConnection connection, in FlowKey key)
        => key.Equals(connection.OutboundKey) ? FlowDirection.Outbound : FlowDirection.Reply;

    // ---- the contract ------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public bool TryLookup(in FlowKey key, long expiredBefore, out NatLookup lookup)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out var connection))
            {
                if (connection.LastSeen >= expiredBefore)
                {
                    lookup = new NatLookup(connection, DirectionOf(connection, key));
                    return true;
                }
                RemoveFromMemory(connection);
            }
        }
        lookup = default;
        return false;
    }

    /// <inheritdoc/>
    public NatInsertStatus TryInsert(in NatConnection connection, long expiredBefore, out NatLookup existing)
    {
        existing = default;
        lock (_lock)
        {
            if (_byKey.TryGetValue(connection.OutboundKey, out var holder))
            {
                if (holder.LastSeen >= expiredBefore)
                {
                    existing = new NatLookup(holder, DirectionOf(holder, connection.OutboundKey));
                    return NatInsertStatus.OutboundTaken;
                }
                RemoveFromMemory(holder);
            }
            if (_byKey.TryGetValue(connection.ReplyKey, out holder))
            {
                if (holder.LastSeen >= expiredBefore) return NatInsertStatus.ReplyTaken;
                RemoveFromMemory(holder);
            }
            AddToMemory(connection);
            _pending[connection.OutboundKey] = connection;
        }
        if (_options.Durable)
        {
            var inserted = connection;
            FlushOrUndo(() =>
            {
                lock (_lock)
                {
                    RemoveFromMemory(inserted);
                    _pending.Remove(inserted.OutboundKey); // it never reached the file
                }
            });
        }
        return NatInsertStatus.Inserted;
    }

    /// <inheritdoc/>
    public void Touch(in FlowKey key, long now)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out var connection)) return;
            var touched = connection.WithLastSeen(now);
            _byKey[touched.OutboundKey] = touched;
            _byKey[touched.ReplyKey] = touched;
            _pending[touched.OutboundKey] = touched; // written lazily, at the next flush
        }
    }

    /// <inheritdoc/>
    public bool Remove(in FlowKey key, out NatConnection removed)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out removed)) return false;
            RemoveFromMemory(removed);
        }
        if (_options.Durable) Flush(throwOnFailure: true);
        return true;
    }

    /// <inheritdoc/>
    public int RemoveConnections(Ipv4Address host, List<NatConnection> removed)
    {
        int count = 0;
        lock (_lock)
        {
            if (_byHost.TryGetValue(host, out var keys))
            {
                foreach (var outbound in keys.ToList())
                {
                    var connection = _byKey[outbound];
                    RemoveFromMemory(connection);
                    removed.Add(connection);
                    count++;
                }
            }
        }
        if (_options.Durable && count > 0) Flush(throwOnFailure: true);
        return count;
    }

    /// <inheritdoc/>
    public bool Contains(in FlowKey key, long expiredBefore)
    {
        lock (_lock) return _byKey.TryGetValue(key, out var connection) && connection.LastSeen >= expiredBefore;
    }

    /// <inheritdoc/>
    public void Clear()
    {
        lock (_lock)
        {
            _byKey.Clear();
            Array.Clear(_countByProtocol);
            _byHost.Clear();
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
            lock (_lock) return _byKey.Where(p => p.Key.Equals(p.Value.OutboundKey)).Select(p => p.Value).ToList();
        }
    }

    // ---- the writer --------------------------------------------------------------------------------------------

    private void WriteLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            _stop.Token.WaitHandle.WaitOne(_options.FlushInterval);
            Flush(throwOnFailure: false);
        }
    }

    /// <summary>Commits every pending change now, in one transaction. <see cref="Dispose"/> calls it too.</summary>
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
            lock (_lock)
            {
                if (_pending.Count == 0 && !_pendingClear) return;
                batch = _pending;
                clear = _pendingClear;
                _pending = new Dictionary<FlowKey, NatConnection?>();
                _pendingClear = false;
            }
            try
            {
                if (_database is null || _collection is null)
                {
                    // A failed write leaves LiteDB with a half-done transaction holding its locks: start a fresh engine,
                    // which recovers the file from its log, and write the whole batch again.
                    _database = new LiteDatabase(new ConnectionString { Filename = _path, Connection = ConnectionType.Direct });
                    _collection = _database.GetCollection(CollectionName);
                }
                _database.BeginTrans();
                if (clear) _collection.DeleteAll();
                foreach (var (outbound, connection) in batch)
                {
                    if (connection is { } write) _collection.Upsert(ToDocument(write));
                    else _collection.Delete(IdOf(outbound));
                }
                _database.Commit();
                if (_failing)
                {
                    _failing = false;
                    _logger.LogInformation("NAT table file {Path} is being written again", _path);
                }
            }
            catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
            {
                // Roll back on this thread first: LiteDB binds a transaction to the thread that began it, and one left
                // open is finalized later with an exception on the finalizer thread, which ends the process.
                RollBack();
                DiscardEngine();
                Interlocked.Increment(ref _writeFailures);
                lock (_lock)
                {
                    // Put the batch back under anything newer, to be retried at the next flush.
                    foreach (var (outbound, connection) in batch) _pending.TryAdd(outbound, connection);
                    _pendingClear |= clear;
                }
                if (!_failing)
                {
                    _failing = true;
                    _logger.LogError(e, "Writing the NAT table file {Path} failed; translating from memory and retrying", _path);
                }
                if (throwOnFailure) throw new NatStoreUnavailableException($"Writing the NAT table file '{_path}' failed: {e.Message}", e);
            }
        }
    }

    private void RollBack()
    {
        try
        {
            _database?.Rollback();
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            _logger.LogDebug(e, "Rolling back a failed write to {Path}", _path);
        }
    }

    private void DiscardEngine()
    {
        if (_database is not null) SuppressTransactionFinalizers(_database);
        try
        {
            _database?.Dispose();
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            _logger.LogDebug(e, "Closing the failed LiteDB engine of {Path}", _path);
        }
        _database = null;
        _collection = null;
    }

    /// <summary>
    /// LiteDB 5 disposes a transaction that nobody disposed from its finalizer, and that dispose throws when the
    /// transaction still holds dirty pages of a failed write — on the finalizer thread, which ends the process (seen
    /// in CI after a full disk, even with the rollback above: a rollback can fail too). Before an engine is thrown away
    /// its open transactions are told not to finalize; the file is recovered from its log by the next engine anyway.
    /// LiteDB offers no API for this, so it is done through its private fields (checked against 5.0.21); if they are
    /// not found nothing happens.
    /// </summary>
    private void SuppressTransactionFinalizers(LiteDatabase database)
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
        }
        catch (Exception e) when (e is FieldAccessException or InvalidOperationException or ArgumentException)
        {
            _logger.LogDebug(e, "Could not reach the transactions of the failed LiteDB engine of {Path}", _path);
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
    }
}
