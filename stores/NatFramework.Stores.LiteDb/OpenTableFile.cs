using LiteDB;
using Microsoft.Extensions.Logging;

namespace NatFramework.Stores.LiteDb;

/// <summary>
/// The table's file as a store holds it: its folder and file checked for access without writing to them, a lock file held
/// for the store's lifetime (LiteDB's direct mode does not stop a second process), the file verified as a NAT table before
/// LiteDB may write to it (<see cref="TableFileCheck"/>), and the LiteDB engine that writes it — replaced by a fresh one
/// after a failed write. Checkpoints (the log copied into the data file) happen only when <see cref="Checkpoint"/> is
/// called: LiteDB's own run inside a commit, where nobody can account for them.
/// </summary>
internal sealed class OpenTableFile : IDisposable
{
    private readonly LiteDbStoreOptions _options;
    private readonly ILogger _logger;
    private readonly FileStream _lockFile;
    private LiteDatabase? _database;            // null after a failed write, until the next write opens a fresh engine
    private ILiteCollection<BsonDocument>? _collection;

    /// <summary>Checks, locks, verifies and opens the file; <see cref="Loaded"/> holds what it contained.</summary>
    /// <exception cref="IOException">The path is a folder, or another process (or store) holds the file.</exception>
    /// <exception cref="UnauthorizedAccessException">The file or its folder may not be read or written.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable NAT table and <see cref="LiteDbStoreOptions.MoveAsideCorruptFile"/> is off.</exception>
    public OpenTableFile(LiteDbStoreOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        Path = System.IO.Path.GetFullPath(options.Path);
        LogPath = TableFileCheck.LogPathOf(Path);
        if (Directory.Exists(Path))
            throw new IOException($"The NAT table path '{Path}' is a folder. Point Path at a file, for example '{System.IO.Path.Combine(Path, "nat.db")}'.");
        RequireAccess();
        _lockFile = TakeLock(Path);
        try
        {
            Loaded = Verify();
            OpenEngine();
        }
        catch
        {
            DiscardEngine();
            _lockFile.Dispose();
            throw;
        }
    }

    /// <summary>The table file's full path.</summary>
    public string Path { get; }

    /// <summary>LiteDB's write-ahead log beside it.</summary>
    public string LogPath { get; }

    /// <summary>Every connection the file held when it was opened.</summary>
    public List<NatConnection> Loaded { get; }

    /// <summary>The log's length in bytes: what the next checkpoint copies into the data file.</summary>
    public long LogLength
    {
        get
        {
            var log = new FileInfo(LogPath);
            return log.Exists ? log.Length : 0;
        }
    }

    /// <summary>
    /// Checks, without writing anything, that the store may read and write the file, its LiteDB log and its folder (where
    /// the lock file and the log are created), so a permission problem is reported as one — not as a damaged table.
    /// </summary>
    private void RequireAccess()
    {
        string folder = System.IO.Path.GetDirectoryName(Path)!;
        try
        {
            using (new FileStream(System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.access-check"), FileMode.CreateNew,
                       FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UnauthorizedAccessException($"The folder of the NAT table file '{Path}' cannot be written ({e.Message}). The store keeps its lock " +
                $"file and LiteDB's log there: give the router's user write access to '{folder}', or choose a file in another folder.", e);
        }
        foreach (var file in new[] { Path, LogPath })
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
            return new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The NAT table file '{path}' is in use by another router or process (its lock '{path}.lock' is held). Stop the other one or use another file.", e);
        }
    }

    /// <summary>Verifies the file (reading only) and returns its connections; moves an unreadable one aside when asked.</summary>
    private List<NatConnection> Verify()
    {
        switch (TableFileCheck.Inspect(Path, out string why))
        {
            case TableFileKind.Missing or TableFileKind.Empty when File.Exists(LogPath) && new FileInfo(LogPath).Length > 0:
                // LiteDB would replay this log onto a new data file: pages of another table over a fresh header, a file
                // damaged from its first write on. Whatever the log belonged to is not here any more.
                Unreadable($"its LiteDB log '{LogPath}' is there without the table it belongs to (the table file is {(File.Exists(Path) ? "empty" : "missing")})", null);
                return [];
            case TableFileKind.Missing:
                return [];
            case TableFileKind.Empty:
                LiteDbStoreLog.EmptyFile(_logger, Path);
                return [];
            case TableFileKind.Foreign:
                Unreadable(why, null);
                return [];
            default:
                try
                {
                    return TableFileCheck.ReadVerified(Path);
                }
                catch (InvalidDataException e)
                {
                    Unreadable(e.Message, e);
                    return [];
                }
        }
    }

    /// <summary>Fails with the reason, or (when asked to) moves the file and its log aside untouched and carries on with an empty table.</summary>
    private void Unreadable(string why, Exception? cause)
    {
        if (!_options.MoveAsideCorruptFile)
            throw new InvalidDataException($"The NAT table file '{Path}' cannot be used: {why}. It was left as it is: restore it, point the store at " +
                "another file, or set MoveAsideCorruptFile to move it aside and start an empty table.", cause);
        string aside = $"{Path}.corrupt-{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        if (File.Exists(Path)) File.Move(Path, aside);
        if (File.Exists(LogPath)) File.Move(LogPath, aside + "-log");
        LiteDbStoreLog.MovedAside(_logger, cause, Path, why, aside);
    }

    private void OpenEngine()
    {
        try
        {
            var database = new LiteDatabase(new ConnectionString { Filename = Path, Connection = ConnectionType.Direct });
            // LiteDB checkpoints by itself inside the commit that takes its log over 1,000 pages: a pause of its own under
            // the writer's next acknowledgements, and its page cache grows to hold that whole log. The writer checkpoints
            // instead, between batches and while no acknowledgement waits (see TableWriter).
            if (database.CheckpointSize != 0) database.CheckpointSize = 0;
            _database = database;
            _collection = database.GetCollection(ConnectionDocument.CollectionName);
        }
        catch (LiteException e)
        {
            throw new IOException($"LiteDB could not open the NAT table file '{Path}' for writing: {e.Message}", e);
        }
    }

    /// <summary>Deletes documents in one transaction (the connections that expired while the file was closed).</summary>
    public void Delete(IReadOnlyList<BsonValue> ids)
    {
        if (ids.Count == 0) return;
        _database!.BeginTrans();
        try
        {
            foreach (var id in ids) _collection!.Delete(id);
            _database.Commit();
        }
        catch
        {
            _database.Rollback();
            throw;
        }
    }

    /// <summary>
    /// Writes a batch in one transaction: every connection in it (by outbound key; null deletes it), after deleting every
    /// document first when <paramref name="clear"/>. On failure the engine is thrown away (the next write opens a fresh
    /// one, which recovers the file from its log) and the exception is passed on.
    /// </summary>
    public void Write(Dictionary<FlowKey, NatConnection?> batch, bool clear)
    {
        try
        {
            if (_database is null || _collection is null) OpenEngine();
            _database!.BeginTrans();
            if (clear) _collection!.DeleteAll();
            foreach (var (outbound, connection) in batch)
            {
                if (connection is { } write) _collection!.Upsert(ConnectionDocument.From(write));
                else _collection!.Delete(ConnectionDocument.IdOf(outbound));
            }
            _database.Commit();
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            // Roll back on this thread first: LiteDB binds a transaction to the thread that began it, and one left open
            // is finalized later with an exception on the finalizer thread, which ends the process.
            if (!RollBack()) DiscardEngine();
            throw;
        }
    }

    /// <summary>Copies the log into the data file and empties it.</summary>
    public void Checkpoint()
    {
        try
        {
            _database?.Checkpoint();
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            // The log still holds every commit: nothing is lost, and the next checkpoint tries again.
            LiteDbStoreLog.CheckpointFailed(_logger, e, Path);
            DiscardEngine();
        }
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
            LiteDbStoreLog.RollbackFailed(_logger, e, Path);
            return false;
        }
    }

    private void DiscardEngine()
    {
        if (_database is not null) LiteDbEngineRelease.ReleaseFailedTransactions(_database, _logger, Path);
        try
        {
            _database?.Dispose();
        }
        catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
        {
            LiteDbStoreLog.CloseFailed(_logger, e, Path);
        }
        _database = null;
        _collection = null;
    }

    /// <summary>Checkpoints (so the next open reads one file), closes the engine and lets go of the lock.</summary>
    public void Dispose()
    {
        Checkpoint();
        DiscardEngine();
        _lockFile.Dispose();
    }
}
