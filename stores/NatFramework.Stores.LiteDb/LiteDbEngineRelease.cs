using LiteDB;
using Microsoft.Extensions.Logging;

namespace NatFramework.Stores.LiteDb;

/// <summary>
/// Lets go of the transactions of a LiteDB engine about to be thrown away after a failed write. LiteDB 5 disposes a
/// transaction that nobody disposed from its finalizer, and that dispose throws when the transaction still holds dirty
/// pages of a failed write — on the finalizer thread, which ends the process (seen in CI after a full disk, even with a
/// rollback: a rollback can fail too); so its transactions are told not to finalize (the file is recovered from its log
/// by the next engine anyway). And the engine keeps the current transaction in a <see cref="ThreadLocal{T}"/> it never
/// disposes: on the writer thread, which lives on, that slot kept every failed engine reachable — its caches and its file
/// handles, ≈ 120 KB and one descriptor per retry of a full disk, 20 retries a second — so the slot is disposed here.
/// LiteDB offers no API for either, so both go through its private fields (checked against 5.0.21); if they are not
/// found nothing happens.
/// </summary>
internal static class LiteDbEngineRelease
{
    public static void ReleaseFailedTransactions(LiteDatabase database, ILogger logger, string path)
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
            LiteDbStoreLog.TransactionsUnreachable(logger, e, path);
        }
    }
}
