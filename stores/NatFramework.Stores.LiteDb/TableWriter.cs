using System.Diagnostics;
using LiteDB;
using Microsoft.Extensions.Logging;

namespace NatFramework.Stores.LiteDb;

/// <summary>
/// The background writer of a <see cref="LiteDbNatStore"/>: the changes acknowledged to the store's callers and not yet
/// in the file, written in batches, and the backpressure that keeps what a crash can lose within
/// <see cref="LiteDbStoreOptions.DurabilityWindow"/>.
/// </summary>
/// <remarks>
/// <para><b>Timing.</b> A batch starts once its oldest insert is <see cref="LiteDbStoreOptions.FlushInterval"/> old (changes
/// that only refresh a connection wait a whole interval), or at once when it holds as many changes as can be written within
/// the commit budget at the measured speed. The writer takes the next batch as soon as one is written, so an insert waits
/// at most for the batch being written and then its own: two budgets and the interval. The budget is a third of what the
/// window leaves after the interval, the rest a margin for scheduling.</para>
/// <para><b>Backpressure.</b> While the next batch is full, the batch being written runs past its budget, the file is
/// failing or a checkpoint runs, an insert is not acknowledged: it waits for the writer, and answers
/// <c>StoreUnavailable</c> if the writer does not catch up within the window.</para>
/// <para><b>Checkpoints.</b> Once LiteDB's log holds <see cref="CheckpointBytes"/>, the writer copies it into the data file
/// right after a batch, and takes no acknowledgement from the moment it takes that batch until the checkpoint is over, so
/// no acknowledged insert waits through one. A small log also keeps LiteDB's page cache (which grows to hold the log
/// between checkpoints, never to shrink) small.</para>
/// <para>Everything pending is guarded by the store's lock (passed in as <c>gate</c>): callers of the <c>Put</c>…
/// methods hold it.</para>
/// </remarks>
internal sealed class TableWriter : IDisposable
{
    /// <summary>The log size at which the writer checkpoints (256 pages: a few milliseconds of copying).</summary>
    public const long CheckpointBytes = 256L * TableFileCheck.PageSize;

    private const int MinBatchLimit = 64, MaxBatchLimit = 200_000;
    private const double FloorSecondsPerDocument = 5e-6;

    private readonly OpenTableFile _file;
    private readonly object _gate;
    private readonly ILogger _logger;
    private readonly long _gatherTicks, _budgetTicks, _windowTicks;
    private readonly TimeSpan _flushInterval;

    // Under _gate.
    private Dictionary<FlowKey, NatConnection?> _pending = new(); // by outbound key: the connection to write, or null to delete
    private Dictionary<FlowKey, NatConnection?> _spare = new();   // the last batch's, emptied, for the next
    private bool _pendingClear;
    private long _oldestPendingInsert;   // Stopwatch timestamp of the oldest acknowledged insert not taken yet; 0: none
    private long _committingSince;       // when the batch being written was taken; 0: idle
    private bool _checkpointing;         // from taking a batch after which the log is copied until the copy is done
    private double _secondsPerDocument;
    private bool _failing;

    private readonly Lock _writeLock = new(); // the file: one batch at a time
    private readonly Thread _thread;
    private readonly AutoResetEvent _wake = new(false);
    private readonly CancellationTokenSource _stop = new();
    private long _writeFailures;

    /// <summary>Starts the writer thread over <paramref name="file"/>.</summary>
    public TableWriter(OpenTableFile file, object gate, LiteDbStoreOptions options, ILogger logger)
    {
        _file = file;
        _gate = gate;
        _logger = logger;
        _flushInterval = options.FlushInterval;
        _gatherTicks = Ticks(options.FlushInterval);
        _windowTicks = Ticks(options.DurabilityWindow);
        _budgetTicks = (_windowTicks - _gatherTicks) / 3;
        _secondsPerDocument = MeasureSecondsPerDocument();
        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "NatFramework LiteDB writer" };
        _thread.Start();
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Failed writes since opening (each retried at the next flush).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>The window, in <see cref="Stopwatch"/> ticks.</summary>
    public long WindowTicks => _windowTicks;

    // ---- changes (under the gate) ------------------------------------------------------------------------------

    /// <summary>An acknowledged new connection: due to be written within the window.</summary>
    public void PutInserted(in NatConnection connection)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        _pending[connection.OutboundKey] = connection;
        if (_oldestPendingInsert == 0)
        {
            _oldestPendingInsert = Stopwatch.GetTimestamp();
            _wake.Set(); // its gathering starts now
        }
        else if (_pending.Count >= BatchLimit)
        {
            _wake.Set();
        }
    }

    /// <summary>A changed connection (last seen, TCP state): written lazily, with the next batch.</summary>
    public void Put(in NatConnection connection)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        _pending[connection.OutboundKey] = connection;
    }

    /// <summary>A connection gone.</summary>
    public void Delete(in FlowKey outbound)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        _pending[outbound] = null;
    }

    /// <summary>An insert that never reached the file (durable mode, its write failed): forgotten.</summary>
    public void Forget(in FlowKey outbound)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        _pending.Remove(outbound);
    }

    /// <summary>Every connection gone.</summary>
    public void Clear()
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        _pending.Clear();
        _pendingClear = true;
    }

    /// <summary>
    /// Whether an insert may be acknowledged now. If not, waits for the writer (releasing the gate meanwhile) and answers
    /// false: the caller checks its insert again (the table may have changed) and asks again.
    /// </summary>
    /// <param name="waitUntil">0 on the first call; when the wait for the writer ends.</param>
    /// <exception cref="NatStoreUnavailableException">The file is failing, or the writer did not catch up within the window.</exception>
    public bool MayAcknowledge(ref long waitUntil)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        long now = Stopwatch.GetTimestamp();
        if (!IsBehind(now)) return true;
        if (_failing)
            throw new NatStoreUnavailableException($"The NAT table file '{_file.Path}' cannot be written at the moment, so a new connection could not be " +
                "kept; the connection was not added (established connections are still translated).");
        if (waitUntil == 0) waitUntil = now + _windowTicks;
        if (now >= waitUntil)
            throw new NatStoreUnavailableException($"The NAT table file '{_file.Path}' is not being written fast enough to keep new connections within the " +
                $"durability window of {_windowTicks * 1000 / Stopwatch.Frequency} ms; the connection was not added.");
        _wake.Set();
        Monitor.Wait(_gate, TimeSpan.FromSeconds((waitUntil - now) / (double)Stopwatch.Frequency));
        return false;
    }

    /// <summary>How many pending changes a batch may hold to be written within the commit budget, at the measured speed.</summary>
    private int BatchLimit => (int)Math.Clamp(_budgetTicks / (double)Stopwatch.Frequency / _secondsPerDocument, MinBatchLimit, MaxBatchLimit);

    /// <summary>
    /// True when an insert acknowledged now might not reach the disk within the window: the writer is failing or
    /// checkpointing, the next batch is already as large as it can write in time, or the batch being written has run past
    /// its budget.
    /// </summary>
    private bool IsBehind(long now) => _failing || _checkpointing || _pending.Count >= BatchLimit
        || (_committingSince != 0 && now - _committingSince > _budgetTicks);

    // ---- writing -----------------------------------------------------------------------------------------------

    private void WriteLoop()
    {
        var handles = new WaitHandle[] { _wake, _stop.Token.WaitHandle };
        while (!_stop.IsCancellationRequested)
        {
            long wait;
            bool failing;
            lock (_gate)
            {
                failing = _failing;
                wait = _pending.Count >= BatchLimit ? 0
                    : _oldestPendingInsert != 0 ? _gatherTicks - (Stopwatch.GetTimestamp() - _oldestPendingInsert)
                    : _pending.Count > 0 || _pendingClear ? _gatherTicks
                    : Stopwatch.Frequency; // idle: the first insert wakes the writer
            }
            // A failing file is retried once per interval whatever wakes the writer: each attempt opens a new LiteDB engine.
            if (failing) _stop.Token.WaitHandle.WaitOne(_flushInterval);
            else if (wait > 0) WaitHandle.WaitAny(handles, TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency));
            if (_stop.IsCancellationRequested) break;
            Flush(throwOnFailure: false);
        }
    }

    /// <summary>Writes every pending change now, in one transaction (and checkpoints when the log is due).</summary>
    /// <exception cref="NatStoreUnavailableException">The file could not be written and <paramref name="throwOnFailure"/>; the changes stay pending and are retried.</exception>
    public void Flush(bool throwOnFailure)
    {
        lock (_writeLock)
        {
            bool checkpoint = _file.LogLength >= CheckpointBytes;
            Dictionary<FlowKey, NatConnection?> batch;
            bool clear;
            long oldestInsert;
            lock (_gate)
            {
                if (_pending.Count == 0 && !_pendingClear && !checkpoint) return;
                batch = _pending;
                clear = _pendingClear;
                oldestInsert = _oldestPendingInsert;
                _pending = _spare;
                _pendingClear = false;
                _oldestPendingInsert = 0;
                _committingSince = Stopwatch.GetTimestamp();
                _checkpointing = checkpoint; // nothing acknowledged from here on waits through the checkpoint
                Monitor.PulseAll(_gate);     // room for the adds that waited
            }
            long started = Stopwatch.GetTimestamp();
            try
            {
                if (batch.Count > 0 || clear) _file.Write(batch, clear);
            }
            catch (Exception e) when (e is IOException or LiteException or UnauthorizedAccessException)
            {
                Failed(e, batch, clear, oldestInsert);
                if (throwOnFailure) throw new NatStoreUnavailableException($"Writing the NAT table file '{_file.Path}' failed: {e.Message}", e);
                return;
            }
            lock (_gate)
            {
                Measured(batch.Count, Stopwatch.GetTimestamp() - started);
                _committingSince = 0;
                if (_failing)
                {
                    _failing = false;
                    LiteDbStoreLog.WritingAgain(_logger, _file.Path);
                }
                Monitor.PulseAll(_gate);
            }
            if (checkpoint)
            {
                _file.Checkpoint();
                lock (_gate)
                {
                    _checkpointing = false;
                    Monitor.PulseAll(_gate);
                }
            }
            batch.Clear();
            lock (_gate) _spare = batch;
        }
    }

    /// <summary>Puts a batch that could not be written back under anything newer, to be retried at the next flush.</summary>
    private void Failed(Exception e, Dictionary<FlowKey, NatConnection?> batch, bool clear, long oldestInsert)
    {
        Interlocked.Increment(ref _writeFailures);
        bool first;
        lock (_gate)
        {
            foreach (var (outbound, connection) in batch) _pending.TryAdd(outbound, connection);
            _pendingClear |= clear;
            if (oldestInsert != 0 && (_oldestPendingInsert == 0 || oldestInsert < _oldestPendingInsert)) _oldestPendingInsert = oldestInsert;
            _committingSince = 0;
            _checkpointing = false;
            first = !_failing;
            _failing = true;
            batch.Clear();
            _spare = batch;
            Monitor.PulseAll(_gate);
        }
        if (first) LiteDbStoreLog.WriteFailed(_logger, e, _file.Path);
    }

    /// <summary>Updates the measured speed after a batch of <paramref name="documents"/> took <paramref name="ticks"/>.</summary>
    private void Measured(int documents, long ticks)
    {
        if (documents == 0) return;
        // Small batches are mostly the commit's fixed cost (a journal flush) and would make documents look dear.
        if (documents < MinBatchLimit && ticks <= _budgetTicks) return;
        double perDocument = Math.Max(FloorSecondsPerDocument, ticks / (double)Stopwatch.Frequency / documents);
        // Slower at once (the window is at stake), faster gradually.
        _secondsPerDocument = perDocument > _secondsPerDocument ? perDocument : 0.7 * _secondsPerDocument + 0.3 * perDocument;
    }

    /// <summary>
    /// The writer's first estimate of its speed, measured on a throwaway in-memory LiteDB: two rounds of writing documents
    /// of the table's shape, the second timed. The first round also runs LiteDB's code for the first time, so its
    /// compilation is paid here and not under the first acknowledged inserts (it made the first batch of a new store
    /// take 2–3 times its estimate). Doubled: a file costs more than memory, and the first batches are also the slowest.
    /// </summary>
    private static double MeasureSecondsPerDocument()
    {
        const int Documents = 1_000;
        using var data = new MemoryStream();
        using var log = new MemoryStream();
        using var database = new LiteDatabase(data, logStream: log);
        var collection = database.GetCollection(ConnectionDocument.CollectionName);
        long timed = 0;
        for (int round = 0; round < 2; round++)
        {
            long started = Stopwatch.GetTimestamp();
            database.BeginTrans();
            for (int i = 0; i < Documents; i++)
            {
                var outbound = new FlowKey(NatProtocol.Udp, new Ipv4Address(0x0A000002u + (uint)i), (ushort)(1024 + round), new Ipv4Address(0xCB007101u), 53);
                var connection = new NatConnection(outbound, outbound.Reversed, i, NatConnectionFlags.None);
                collection.Upsert(ConnectionDocument.From(connection));
                if (i % 2 == 0) collection.Delete(ConnectionDocument.IdOf(outbound));
            }
            database.Commit();
            timed = Stopwatch.GetTimestamp() - started;
        }
        return Math.Max(FloorSecondsPerDocument, 2 * timed / (double)Stopwatch.Frequency / Documents);
    }

    /// <summary>Stops the writer thread and writes what is pending.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        Flush(throwOnFailure: false);
        _stop.Dispose();
        _wake.Dispose();
    }
}
