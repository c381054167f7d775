using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Every request to Redis goes through Call: bounded by the operation timeout, retried while a slot moves, and failures to reach Redis turned into the store being unavailable.
public sealed partial class RedisNatStore
{
    // ---- availability ------------------------------------------------------------------------------------------

    /// <summary>Runs a Lua script (see <see cref="Call"/>).</summary>
    private Task<RedisResult> Script(string script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
        => Call(static (db, s) => db.ScriptEvaluateAsync(s.script, s.keys, s.args), (script, keys, args), cancellationToken);

    /// <summary>
    /// Sends one request and awaits it within the operation timeout; failures to reach Redis become
    /// <see cref="NatStoreUnavailableException"/>. While Redis is known to be down, fails at once without sending anything.
    /// </summary>
    private async Task<T> Call<TState, T>(Func<IDatabase, TState, Task<T>> request, TState state, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        if (!_availability.IsAvailable) throw DownAlready();
        Interlocked.Increment(ref _roundTrips);
        var limit = timeout ?? _options.OperationTimeout;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int retry = 0; ; retry++)
        {
            try
            {
                var remaining = limit - System.Diagnostics.Stopwatch.GetElapsedTime(started);
                var result = await request(Database, state).WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                _availability.Reached();
                if (Volatile.Read(ref _subscribed) == 0) _ = SubscribeAsync();
                return result;
            }
            catch (RedisServerException e) when (IsSlotMoving(e))
            {
                // Redis Cluster is moving this table's slot: the script's keys are on both nodes for a moment (TRYAGAIN),
                // or the nodes do not agree yet on who owns it and StackExchange.Redis, already following one redirect,
                // will not follow a second (MOVED/ASK with NoRedirect; it learns the new owner from the reply). Only
                // this slot is affected, so the store is not marked down; the operation retries (10, 20, 40, 50, 50 …
                // ms apart) until its timeout, and only then is it reported unavailable.
                var pause = TimeSpan.FromMilliseconds(Math.Min(50, 10 << Math.Min(retry, 3)));
                if (System.Diagnostics.Stopwatch.GetElapsedTime(started) + pause >= limit)
                    throw new NatStoreUnavailableException($"Redis ({ServerName}) kept redirecting for {limit.TotalMilliseconds} ms (a slot being migrated): {e.Message}", e);
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException e) when (retry > 0)
            {
                // Out of time while the slot was still moving: this operation failed, the store did not.
                throw new NatStoreUnavailableException($"Redis ({ServerName}) kept redirecting for {limit.TotalMilliseconds} ms (a slot being migrated).", e);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or TimeoutException
                || (e is RedisServerException server && IsTransientServerError(server)))
            {
                throw Unavailable(e);
            }
        }
    }

    private static bool IsSlotMoving(RedisServerException e)
        => e.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal) || e.Message.StartsWith("MOVED", StringComparison.Ordinal)
           || e.Message.StartsWith("ASK", StringComparison.Ordinal) || e.Message.StartsWith("Key has ", StringComparison.Ordinal); // "Key has MOVED|ASK …"

    private static bool IsTransientServerError(RedisServerException e)
        => e.Message.StartsWith("LOADING", StringComparison.Ordinal) || e.Message.StartsWith("BUSY", StringComparison.Ordinal)
           || e.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal) || e.Message.StartsWith("NOAUTH", StringComparison.Ordinal)
           // Redis Cluster: a slot without a serving master during a fail-over.
           || e.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal);

    private NatStoreUnavailableException Unavailable(Exception cause)
    {
        _availability.Failed(cause);
        return new NatStoreUnavailableException($"Redis ({ServerName}) did not answer within {_options.OperationTimeout.TotalMilliseconds} ms: {cause.Message}", cause);
    }

    private NatStoreUnavailableException DownAlready()
        => new($"Redis ({ServerName}) is unavailable; the store retries it every {RedisAvailability.ProbeInterval.TotalMilliseconds} ms.");
}
