using System.ComponentModel;
using System.Diagnostics;

namespace NatFramework.Translation;

/// <summary>
/// Times the calls a generated translator makes to an asynchronous (remote) store, into the histogram
/// <c>natframework.store.duration</c>. Nothing is timed while no listener has enabled the histogram. Public only for
/// generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class StoreCallTimer
{
    /// <summary>The timestamp to time a call from, or 0 when nobody listens.</summary>
    /// <returns>A <see cref="Stopwatch"/> timestamp, or 0.</returns>
    public static long Start() => NatMetrics.StoreDurationEnabled ? Stopwatch.GetTimestamp() : 0;

    /// <summary>Records the call's duration when it ends (at once when it already has).</summary>
    /// <param name="started">From <see cref="Start"/>; 0 records nothing.</param>
    /// <param name="call">The store's call.</param>
    /// <param name="store">The store's type name.</param>
    /// <param name="operation">The operation, e.g. <c>lookup</c>.</param>
    /// <typeparam name="T">The type of the call's result.</typeparam>
    /// <returns>The call, to await in its place.</returns>
    public static ValueTask<T> Time<T>(long started, ValueTask<T> call, string store, string operation)
    {
        if (started == 0) return call;
        if (call.IsCompleted)
        {
            NatMetrics.RecordStoreCall(started, store, operation);
            return call;
        }
        return Awaited(started, call, store, operation);
    }

    /// <summary>Records the call's duration when it ends (at once when it already has).</summary>
    /// <param name="started">From <see cref="Start"/>; 0 records nothing.</param>
    /// <param name="call">The store's call.</param>
    /// <param name="store">The store's type name.</param>
    /// <param name="operation">The operation, e.g. <c>touch</c>.</param>
    /// <returns>The call, to await in its place.</returns>
    public static ValueTask Time(long started, ValueTask call, string store, string operation)
    {
        if (started == 0) return call;
        if (call.IsCompleted)
        {
            NatMetrics.RecordStoreCall(started, store, operation);
            return call;
        }
        return Awaited(started, call, store, operation);
    }

    private static async ValueTask<T> Awaited<T>(long started, ValueTask<T> call, string store, string operation)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        finally
        {
            NatMetrics.RecordStoreCall(started, store, operation);
        }
    }

    private static async ValueTask Awaited(long started, ValueTask call, string store, string operation)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        finally
        {
            NatMetrics.RecordStoreCall(started, store, operation);
        }
    }
}
