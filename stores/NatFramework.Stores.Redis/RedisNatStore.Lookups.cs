using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Lookups: the near cache first (fresh, or stale and refreshed in the background), then one GET per key or one MGET per shard for a batch.
public sealed partial class RedisNatStore
{
    // ---- reads -------------------------------------------------------------------------------------------------

    /// <summary>
    /// What the near cache can answer without Redis: a fresh entry; or a stale one while Redis is down (when allowed); or a
    /// stale one whose connection cannot have expired yet by its own last-seen time, which also starts one background
    /// refresh of the key. False when Redis has to be asked.
    /// </summary>
    private bool TryAnswerFromNearCache(in FlowKey key, out NatLookup lookup)
    {
        if (!_nearCache.TryGet(key, out lookup, out bool fresh)) return false;
        if (fresh) return true;
        if (!_availability.IsAvailable) return _options.ServeFromNearCacheWhenUnavailable;
        long ttl = TtlFor(lookup.Connection);
        if (ttl > 0 && lookup.Connection.LastSeen + ttl <= _nearCache.Now) return false;
        RefreshInBackground(key);
        return true;
    }

    private void RefreshInBackground(FlowKey key)
    {
        if (_refreshing.TryAdd(key, 0)) _ = RefreshAsync(key);
    }

    private async Task RefreshAsync(FlowKey key)
    {
        try
        {
            Remember(key, await GetAsync(key, CancellationToken.None).ConfigureAwait(false));
        }
        catch (NatStoreUnavailableException)
        {
            // The entry stays and keeps being served while Redis is down; the availability probe takes over.
        }
        finally
        {
            _refreshing.TryRemove(key, out _);
        }
    }

    /// <inheritdoc/>
    public ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default)
        => TryAnswerFromNearCache(key, out var cached) ? new ValueTask<NatLookup>(cached) : LookupRemoteAsync(key, cancellationToken);

    private async ValueTask<NatLookup> LookupRemoteAsync(FlowKey key, CancellationToken cancellationToken)
    {
        RedisValue value;
        try
        {
            value = await GetAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException) when (_options.ServeFromNearCacheWhenUnavailable && _nearCache.TryGet(key, out var stale, out _))
        {
            return stale;
        }
        return Remember(key, value);
    }

    /// <summary>The record under <paramref name="key"/>: one <c>GET</c>, or on a sharded table one to each shard that may hold it, sent together.</summary>
    private Task<RedisValue> GetAsync(FlowKey key, CancellationToken cancellationToken)
    {
        var (first, second) = ShardsHolding(key);
        if (second is null) return Call(static (db, k) => db.StringGetAsync(k), first.KeyOf(key), cancellationToken);
        return Call(static async (db, k) =>
        {
            var inFirst = db.StringGetAsync(k.First);
            var inSecond = db.StringGetAsync(k.Second);
            await Task.WhenAll(inFirst, inSecond).ConfigureAwait(false);
            return inFirst.Result.IsNull ? inSecond.Result : inFirst.Result;
        }, (First: first.KeyOf(key), Second: second.KeyOf(key)), cancellationToken);
    }

    private NatLookup Remember(in FlowKey key, RedisValue value)
    {
        if (value.IsNull || !RecordCodec.TryReadRecord((byte[])value!, out var lookup))
        {
            _nearCache.Remove(key);
            return default;
        }
        _nearCache.Put(key, lookup);
        return lookup;
    }

    /// <summary>Near-cache answers first; every other key of the batch in one <c>MGET</c> (one round trip).</summary>
    /// <param name="keys">The flows.</param>
    /// <param name="expiry">Which connections count as expired.</param>
    /// <param name="results">One answer per key.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>Completes when every answer is written.</returns>
    public async ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken = default)
    {
        List<int>? missing = null; // allocated only when something misses: a batch of established flows allocates nothing
        for (int i = 0; i < keys.Length; i++)
        {
            if (TryAnswerFromNearCache(keys.Span[i], out var cached)) results.Span[i] = cached;
            else (missing ??= new List<int>()).Add(i);
        }
        if (missing is null) return;
        RedisValue[] values;
        try
        {
            values = await GetManyAsync(keys, missing, cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException) when (_options.ServeFromNearCacheWhenUnavailable)
        {
            bool anyServed = false;
            foreach (int i in missing)
            {
                bool stale = _nearCache.TryGet(keys.Span[i], out var cached, out _);
                results.Span[i] = stale ? cached : default;
                anyServed |= stale;
            }
            if (!anyServed) throw;
            return;
        }
        for (int m = 0; m < missing.Count; m++) results.Span[missing[m]] = Remember(keys.Span[missing[m]], values[m]);
    }

    /// <summary>
    /// The records of <paramref name="keys"/>[<paramref name="missing"/>[m]]: one <c>MGET</c> per shard that may hold one
    /// of them (a shard is one slot, so one <c>MGET</c> serves it on a cluster too), all sent together.
    /// </summary>
    private Task<RedisValue[]> GetManyAsync(ReadOnlyMemory<FlowKey> keys, List<int> missing, CancellationToken cancellationToken)
    {
        if (_shards.Count == 1)
        {
            var shard = _shards.All[0];
            var redisKeys = new RedisKey[missing.Count];
            for (int m = 0; m < missing.Count; m++) redisKeys[m] = shard.KeyOf(keys.Span[missing[m]]);
            return Call(static (db, k) => db.StringGetAsync(k), redisKeys, cancellationToken);
        }
        // Each missing key is asked in its one or two candidate shards; places[m] says where its answers come back.
        var perShard = new List<RedisKey>?[_shards.Count];
        var places = new (int Shard, int Index, int OtherShard, int OtherIndex)[missing.Count];
        for (int m = 0; m < missing.Count; m++)
        {
            var key = keys.Span[missing[m]];
            var (first, second) = _shards.CandidatesOf(key);
            var list = perShard[first.Number] ??= new List<RedisKey>();
            places[m] = (first.Number, list.Count, -1, -1);
            list.Add(first.KeyOf(key));
            if (second is not null)
            {
                var other = perShard[second.Number] ??= new List<RedisKey>();
                places[m].OtherShard = second.Number;
                places[m].OtherIndex = other.Count;
                other.Add(second.KeyOf(key));
            }
        }
        return Call(static async (db, s) =>
        {
            var answers = new Task<RedisValue[]>?[s.perShard.Length];
            for (int i = 0; i < answers.Length; i++)
                if (s.perShard[i] is { } list) answers[i] = db.StringGetAsync([.. list]);
            await Task.WhenAll(answers.Where(a => a is not null)!).ConfigureAwait(false);
            var values = new RedisValue[s.places.Length];
            for (int m = 0; m < values.Length; m++)
            {
                var (shard, index, otherShard, otherIndex) = s.places[m];
                values[m] = answers[shard]!.Result[index];
                if (values[m].IsNull && otherShard >= 0) values[m] = answers[otherShard]!.Result[otherIndex];
            }
            return values;
        }, (perShard, places), cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default)
    {
        var (first, second) = _shards.CandidatesOf(key);
        if (second is null) return await Call(static (db, k) => db.KeyExistsAsync(k), first.KeyOf(key), cancellationToken).ConfigureAwait(false);
        return await Call(static async (db, k) =>
        {
            var inFirst = db.KeyExistsAsync(k.First);
            var inSecond = db.KeyExistsAsync(k.Second);
            await Task.WhenAll(inFirst, inSecond).ConfigureAwait(false);
            return inFirst.Result || inSecond.Result;
        }, (First: first.KeyOf(key), Second: second.KeyOf(key)), cancellationToken).ConfigureAwait(false);
    }
}
