using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

/// <summary>
/// A NAT table in Redis that several routers share: a connection set up through one router is translated by every
/// other, so a router can take over from one that went away. See the README's Redis section for the key layout,
/// the consistency bounds and what happens while Redis is down.
/// </summary>
/// <remarks>
/// <para>Writes are Lua scripts (atomic: both directions, the host index and the protocol's expiry index together);
/// each protocol's table is bounded (<see cref="RedisStoreOptions.TcpCapacity"/>…), counted in Redis with each insert.
/// Expiry is Redis's own key expiry, refreshed by the translator at most once per refresh interval.</para>
/// <para>Lookups go through an in-process near cache: an entry is fresh for <see cref="RedisStoreOptions.NearCacheFreshness"/>
/// (removals are also pushed to every router by pub/sub); a stale entry whose connection cannot have expired yet is
/// still answered at once while one background refresh per key asks Redis, so an established flow never waits for
/// Redis, not even while Redis hangs. Misses of a batch are one <c>MGET</c>.</para>
/// <para>A Redis that does not answer within <see cref="RedisStoreOptions.OperationTimeout"/> makes the store count it
/// as down: operations then fail at once with <see cref="NatStoreUnavailableException"/> (the generated translator's
/// <c>StoreUnavailable</c>) until a probe finds it answering again; established flows keep being translated from the
/// near cache meanwhile. A Redis that refuses the store's credentials is an error at construction.</para>
/// </remarks>
public sealed class RedisNatStore : IAsyncNatStore, IAsyncNatBatchLookup, IAsyncNatHostIndex, INatNativeExpiry, IAsyncNatStoreStatistics, INatPortClasses,
    IAsyncDisposable, IDisposable
{
    private const int RemoveChunk = 500; // connections per script: Redis serves other clients between chunks

    private readonly RedisStoreOptions _options;
    private readonly ILogger _logger;
    private readonly IConnectionMultiplexer _redis;
    private readonly bool _ownsConnection;
    private readonly TableShards _shards;
    private readonly RedisKey _layoutKey; // the table's shard count, which every router on it must share
    private readonly RedisChannel _invalidations;
    private readonly NearCache _nearCache;
    private readonly RedisAvailability _availability;
    private readonly ConcurrentDictionary<FlowKey, byte> _refreshing = new(); // keys with a background lookup in flight
    private readonly ConcurrentDictionary<FlowKey, byte> _touching = new();   // keys with a background refresh in flight
    private long _tcpTtl, _tcpTransitoryTtl, _udpTtl, _icmpTtl;
    private int _subscribed;
    private int _subscribing;
    private long _roundTrips;

    /// <summary>Connects to Redis as <paramref name="options"/> say. A Redis that is down now is reported per operation, not here.</summary>
    /// <param name="options">Where Redis is and how the table is kept; validated.</param>
    /// <param name="logger">Where outages and recoveries are logged (once each).</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="UnauthorizedAccessException">Redis refused the credentials of the connection string, or its ACL lacks what the store needs.</exception>
    /// <exception cref="AuthenticationException">The TLS handshake failed (the server's certificate is not trusted here).</exception>
    public RedisNatStore(RedisStoreOptions options, ILogger<RedisNatStore>? logger = null)
        : this(options, Connect(options), ownsConnection: true, logger)
    {
    }

    /// <summary>Uses an existing connection (which stays the caller's to dispose).</summary>
    /// <param name="options">How the table is kept; validated (its <see cref="RedisStoreOptions.Configuration"/> is only used in messages).</param>
    /// <param name="connection">The connection to Redis.</param>
    /// <param name="logger">Where outages and recoveries are logged (once each).</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="UnauthorizedAccessException">Redis refused the connection's credentials, or its ACL lacks what the store needs.</exception>
    /// <exception cref="AuthenticationException">The TLS handshake failed (the server's certificate is not trusted here).</exception>
    public RedisNatStore(RedisStoreOptions options, IConnectionMultiplexer connection, ILogger<RedisNatStore>? logger = null)
        : this(options, connection, ownsConnection: false, logger)
    {
    }

    private RedisNatStore(RedisStoreOptions options, IConnectionMultiplexer connection, bool ownsConnection, ILogger<RedisNatStore>? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(connection);
        options.Validate();
        _options = options;
        _redis = connection;
        _ownsConnection = ownsConnection;
        _logger = logger ?? NullLogger<RedisNatStore>.Instance;
        string tag = "{" + options.KeyPrefix + "}";
        _shards = new TableShards(options.KeyPrefix, options.Shards);
        _layoutKey = tag + ":shards";
        _invalidations = RedisChannel.Literal(tag + ":invalidate");
        _nearCache = new NearCache(options.NearCacheCapacity, options.NearCacheFreshness);
        _availability = new RedisAvailability(() => Database.PingAsync(), options.OperationTimeout, _logger, options.KeyPrefix, OnAvailableAgain);
        ConfigureExpiry(null);
        try
        {
            WarmUp();
        }
        catch
        {
            if (_ownsConnection) _redis.Dispose();
            throw;
        }
        _ = SubscribeAsync();
    }

    /// <summary>
    /// At construction: one round trip and the scripts loaded into Redis's script cache, so the first packets do not pay
    /// for connection set-up, code warm-up and script compilation inside their operation timeout. A Redis that is down
    /// now is not an error here (operations report it); one that refuses the credentials is, because retrying cannot help.
    /// </summary>
    private void WarmUp()
    {
        // The first connection attempt may still be under way when Connect returns: wait (at most two seconds) for it to
        // end one way or the other, so a refusal of the credentials is seen here rather than as endless unavailability.
        string? refusal = null, handshake = null;
        bool otherFailure = false;
        void OnFailed(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.FailureType != ConnectionFailureType.AuthenticationFailure) otherFailure = true;
            else if (TlsFailure(e.Exception) is { } tls) handshake ??= tls;
            else refusal ??= AuthenticationFailure(e.Exception ?? new RedisException(e.FailureType.ToString()));
        }
        _redis.ConnectionFailed += OnFailed;
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (true)
            {
                try
                {
                    Database.Ping();
                    LoadScripts();
                    CheckShardCount();
                    return;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    handshake ??= TlsFailure(e);
                    if (handshake is not null)
                        throw new AuthenticationException($"Redis ({ServerName}): the TLS handshake failed: {handshake} Check ssl= and sslHost= in the connection " +
                            "string, and that this machine trusts the certificate authority of the server's certificate (or pass a connection made with " +
                            "ConfigurationOptions.TrustIssuer).", e);
                    refusal ??= AuthenticationFailure(e);
                    if (refusal is not null)
                        throw new UnauthorizedAccessException($"Redis ({ServerName}) refused the NAT store's credentials: {refusal}. Check user= and password= " +
                            "in the connection string (and the ACL of that user).", e);
                    if (otherFailure || DateTime.UtcNow > deadline)
                    {
                        RedisStoreLog.WarmUpSkipped(_logger, _options.KeyPrefix, RedisStoreLog.ReasonOf(e));
                        return;
                    }
                }
                Thread.Sleep(50);
            }
        }
        finally
        {
            _redis.ConnectionFailed -= OnFailed;
        }
    }

    private void LoadScripts()
    {
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica) continue;
            foreach (var script in new[] { LuaScripts.Insert, LuaScripts.Touch, LuaScripts.UpdateState, LuaScripts.Remove, LuaScripts.RemoveHost, LuaScripts.Count, LuaScripts.FindMapping })
                server.ScriptLoad(script);
        }
    }

    /// <summary>
    /// Records the table's shard count in Redis, or checks it against the one recorded: routers that disagree on it would
    /// look for connections where the others did not put them.
    /// </summary>
    /// <exception cref="ArgumentException">The table in Redis is spread over another number of shards.</exception>
    private void CheckShardCount()
    {
        var database = Database;
        database.StringSet(_layoutKey, _shards.Count, when: When.NotExists);
        var recorded = database.StringGet(_layoutKey);
        if (recorded.TryParse(out int shards) && shards != _shards.Count)
            throw new ArgumentException($"Shards is {_shards.Count}, but the table '{_options.KeyPrefix}' in Redis ({ServerName}) is spread over {shards} shard(s); " +
                "every router on a table must use the same count (to change it, stop every router and delete the key " + (string?)_layoutKey + ").", nameof(RedisStoreOptions.Shards));
    }

    /// <summary>Why the TLS handshake failed (the server's certificate not trusted, say), or null when <paramref name="e"/> is about something else.</summary>
    private static string? TlsFailure(Exception? e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        {
            if (cause is AuthenticationException) return cause.Message;
            if (cause is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions)
                    if (TlsFailure(inner) is { } found) return found;
        }
        return null;
    }

    /// <summary>
    /// What Redis said when it refused the credentials or the rights the store needs (an ACL user without scripting,
    /// say: NOPERM), or null when <paramref name="e"/> is about something else. Retrying cannot help with either.
    /// </summary>
    private static string? AuthenticationFailure(Exception e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        {
            if (cause is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure }
                || cause.Message.Contains("WRONGPASS", StringComparison.Ordinal) || cause.Message.Contains("NOAUTH", StringComparison.Ordinal)
                || cause.Message.Contains("NOPERM", StringComparison.Ordinal))
            {
                string message = e.Message;
                foreach (var marker in new[] { "WRONGPASS", "NOAUTH", "NOPERM" })
                {
                    int at = message.IndexOf(marker, StringComparison.Ordinal);
                    if (at >= 0) return message[at..].Split(new[] { ". ", ", mc:" }, 2, StringSplitOptions.None)[0];
                }
                return "authentication failed";
            }
        }
        return null;
    }

    private static IConnectionMultiplexer Connect(RedisStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var configuration = ConfigurationOptions.Parse(options.Configuration);
        int timeout = (int)options.OperationTimeout.TotalMilliseconds;
        configuration.AbortOnConnectFail = false;            // start even while Redis is down
        configuration.BacklogPolicy = BacklogPolicy.FailFast; // while disconnected, fail at once instead of queueing
        configuration.AsyncTimeout = timeout;
        configuration.SyncTimeout = timeout;
        configuration.ConnectTimeout = Math.Max(timeout, 1000);
        configuration.ConnectRetry = 1;
        configuration.ReconnectRetryPolicy = new LinearRetry(500);
        return ConnectionMultiplexer.Connect(configuration);
    }

    private string ServerName => _options.Configuration.Split(',')[0];

    /// <summary>Requests sent to Redis so far (a batch lookup's <c>MGET</c> is one), for diagnostics and metrics.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>False from an operation that could not reach Redis until Redis answers again.</summary>
    public bool IsAvailable => _availability.IsAvailable;

    /// <summary>The most connections of <paramref name="protocol"/> the shared table holds: the capacity times the shard count (each shard is bounded by it).</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The capacity.</returns>
    public int CapacityOf(NatProtocol protocol) => (int)Math.Min(int.MaxValue, (long)_options.CapacityFor(protocol) * _shards.Count);

    /// <summary>Live connections of <paramref name="protocol"/> in the shared table (every router's), as Redis counts them now.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>How many live connections of the protocol the shared table holds.</returns>
    /// <exception cref="NatStoreUnavailableException">Redis did not answer.</exception>
    public async ValueTask<long> CountAsync(NatProtocol protocol, CancellationToken cancellationToken = default)
        => (await CountPerShardAsync([protocol], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>Live connections of each protocol, summed over the shards (one script per shard, all at once).</summary>
    private async Task<long[]> CountPerShardAsync(NatProtocol[] protocols, CancellationToken cancellationToken)
    {
        var perShard = new Task<RedisResult>[_shards.Count];
        for (int i = 0; i < perShard.Length; i++)
        {
            var shard = _shards.All[i];
            perShard[i] = Script(LuaScripts.Count, Array.ConvertAll(protocols, shard.IndexKeyOf), [], cancellationToken);
        }
        await Task.WhenAll(perShard).ConfigureAwait(false);
        var totals = new long[protocols.Length];
        foreach (var answer in perShard)
        {
            var counts = (RedisResult[])(await answer.ConfigureAwait(false))!;
            for (int p = 0; p < totals.Length; p++) totals[p] += (long)counts[p];
        }
        return totals;
    }

    /// <summary>
    /// The shared table's live connections per protocol (every router's, one round trip), and the transitory TCP
    /// connections this store evicted to make room. Expiry is Redis's own, so <see cref="NatStoreStatistics.Expired"/> is
    /// null.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The statistics.</returns>
    /// <exception cref="NatStoreUnavailableException">Redis did not answer.</exception>
    public async ValueTask<NatStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var counts = await CountPerShardAsync([NatProtocol.Tcp, NatProtocol.Udp, NatProtocol.Icmp], cancellationToken).ConfigureAwait(false);
        return new NatStoreStatistics(counts[0], counts[1], counts[2]) { Evicted = Interlocked.Read(ref _evicted) };
    }

    private long _evicted;

    /// <inheritdoc/>
    public void ConfigureExpiry(NatTimeouts? timeouts)
    {
        _tcpTtl = timeouts is null ? 0 : (long)timeouts.Tcp.TotalMilliseconds;
        _tcpTransitoryTtl = timeouts is null ? 0 : (long)timeouts.TcpTransitory.TotalMilliseconds;
        _udpTtl = timeouts is null ? 0 : (long)timeouts.Udp.TotalMilliseconds;
        _icmpTtl = timeouts is null ? 0 : (long)timeouts.Icmp.TotalMilliseconds;
    }

    private long TtlFor(NatProtocol protocol) => protocol switch { NatProtocol.Tcp => _tcpTtl, NatProtocol.Udp => _udpTtl, _ => _icmpTtl };

    /// <summary>A connection's lifetime in Redis: its protocol's, or the transitory one for a transitory TCP connection.</summary>
    private long TtlFor(in NatConnection connection) => connection.IsTransitory ? _tcpTransitoryTtl : TtlFor(connection.Protocol);

    /// <summary>The transitory lifetime for TCP keys, the protocol's own for the others (what the refresh scripts pick from).</summary>
    private long TransitoryTtlFor(NatProtocol protocol) => protocol == NatProtocol.Tcp ? _tcpTransitoryTtl : TtlFor(protocol);

    private IDatabase Database => _redis.GetDatabase();

    /// <inheritdoc/>
    /// <remarks>Every port for a table of one shard; on a sharded table, the ports of the connection's shard (see <see cref="RedisStoreOptions.Shards"/>).</remarks>
    public PortClass PortClassOf(in FlowKey outbound, bool redirect) => _shards.ClassOf(outbound, redirect);

    /// <summary>
    /// Where a connection with key <paramref name="key"/> is: the shard of the connection the near cache holds for it,
    /// else both shards that may hold the key (the second null when there is one).
    /// </summary>
    private (TableShard First, TableShard? Second) ShardsHolding(in FlowKey key)
    {
        if (_shards.Count == 1) return (_shards.All[0], null);
        if (_nearCache.TryGet(key, out var cached, out _)) return (_shards.Of(cached.Connection), null);
        return _shards.CandidatesOf(key);
    }

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

    /// <inheritdoc/>
    public async IAsyncEnumerable<NatConnection> GetConnectionsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var shard in _shards.All)
        foreach (var batch in await ScanAsync(shard.ConnectionPattern, cancellationToken).ConfigureAwait(false))
        {
            var values = await Call(static (db, k) => db.StringGetAsync(k), batch, cancellationToken).ConfigureAwait(false);
            foreach (var value in values)
                if (!value.IsNull && RecordCodec.TryReadRecord((byte[])value!, out var lookup) && lookup.Direction == FlowDirection.Outbound)
                    yield return lookup.Connection;
        }
    }

    private async Task<List<RedisKey[]>> ScanAsync(RedisValue pattern, CancellationToken cancellationToken)
    {
        if (!_availability.IsAvailable) throw DownAlready();
        var batches = new List<RedisKey[]>();
        try
        {
            foreach (var endpoint in _redis.GetEndPoints())
            {
                var server = _redis.GetServer(endpoint);
                if (server.IsReplica || !server.IsConnected) continue;
                var batch = new List<RedisKey>();
                await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    batch.Add(key);
                    if (batch.Count == 1000)
                    {
                        batches.Add([.. batch]);
                        batch.Clear();
                    }
                }
                if (batch.Count > 0) batches.Add([.. batch]);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw Unavailable(e);
        }
        return batches;
    }

    // ---- writes ------------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public async ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry,
        CancellationToken cancellationToken = default)
    {
        var shard = _shards.OfPort(publicPort); // a public endpoint's mappings are in the shard its port belongs to
        RedisKey[] keys = [shard.MappingKeyOf(protocol, publicAddress, publicPort), shard.MappingKeyOf(protocol, publicAddress, publicPort, remoteAddress)];
        var result = (RedisResult[])(await Script(LuaScripts.FindMapping, keys, [shard.Tag], cancellationToken).ConfigureAwait(false))!;
        if ((int)result[0] == 0 || !RecordCodec.TryReadRecord((byte[])result[1]!, out var member)) return default;
        var inside = member.Connection.Outbound;
        return new NatMapping(inside.Source, inside.SourcePort, publicAddress, publicPort, (int)result[2] == 1);
    }

    /// <inheritdoc/>
    public async ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken = default)
    {
        var outboundKey = connection.OutboundKey;
        var shard = _shards.Of(connection);
        if (_shards.Count > 1)
        {
            // A reply names only the public port: one outside the shard's class could never be found.
            if (!_shards.ClassOf(connection.Outbound, connection.IsRedirect).Contains(connection.Translated.SourcePort))
                return new NatInsertOutcome(NatInsertStatus.ReplyTaken, default);
            if (TranslatesDestination(connection) && await HeldElsewhereAsync(connection, shard, cancellationToken).ConfigureAwait(false) is { } taken)
                return taken;
        }
        var keyBytes = new byte[RecordCodec.KeyLength];
        RecordCodec.WriteKey(keyBytes, outboundKey);
        RedisKey[] keys = [shard.KeyOf(outboundKey), shard.KeyOf(connection.ReplyKey), shard.HostKeyOf(connection.InsideHost, connection.Protocol, connection.IsRedirect),
            shard.IndexKeyOf(connection.Protocol)];
        RedisValue[] args =
        [
            RecordCodec.Record(connection, FlowDirection.Outbound), RecordCodec.Record(connection, FlowDirection.Reply),
            TtlFor(connection), keyBytes, _options.CapacityFor(connection.Protocol), rules.HostLimit, shard.Tag,
        ];
        var result = (RedisResult[])(await Script(LuaScripts.Insert, keys, args, cancellationToken).ConfigureAwait(false))!;
        switch ((int)result[0])
        {
            case 0:
                _nearCache.Remove(outboundKey);
                _nearCache.Remove(connection.ReplyKey);
                if ((int)result[2] == 1) Interlocked.Increment(ref _evicted);
                if (_options.ReplicaAcknowledgements > 0) await WaitForReplicas(keys[0], cancellationToken).ConfigureAwait(false);
                return new NatInsertOutcome(NatInsertStatus.Inserted, default);
            case 1:
                RecordCodec.TryReadRecord((byte[])result[1]!, out var existing);
                return new NatInsertOutcome(NatInsertStatus.OutboundTaken, existing);
            case 2:
                return new NatInsertOutcome(NatInsertStatus.ReplyTaken, default);
            case 4:
                return new NatInsertOutcome(NatInsertStatus.HostLimitReached, default);
            case 5:
                RecordCodec.TryReadRecord((byte[])result[1]!, out var ofMapping);
                return new NatInsertOutcome(NatInsertStatus.MappingConflict, new NatLookup(ofMapping.Connection, FlowDirection.Outbound));
            default:
                return new NatInsertOutcome(NatInsertStatus.TableFull, default);
        }
    }

    /// <summary>True for a redirect or a hairpinned connection: its keys' destinations are public endpoints.</summary>
    private static bool TranslatesDestination(in NatConnection connection)
        => connection.Outbound.Destination != connection.Translated.Destination || connection.Outbound.DestinationPort != connection.Translated.DestinationPort;

    /// <summary>
    /// On a sharded table, whether a key of <paramref name="connection"/> is already held in the other shard that may hold
    /// it: the outbound key of a redirect also fits a hairpinned flow (source: an inside host), and a key of a hairpinned
    /// connection fits a redirect (destination port: a public one). Only connections that translate the destination can
    /// meet this, so only they pay the extra round trip; it is a check before the insert, not inside it, so two routers
    /// creating the same flow as a redirect and as a hairpin in the same instant can both succeed (the lookup then prefers
    /// the shard of the key's source).
    /// </summary>
    private async Task<NatInsertOutcome?> HeldElsewhereAsync(NatConnection connection, TableShard own, CancellationToken cancellationToken)
    {
        var outboundElsewhere = _shards.OtherCandidate(connection.OutboundKey, own);
        var replyElsewhere = _shards.OtherCandidate(connection.ReplyKey, own);
        if (outboundElsewhere is null && replyElsewhere is null) return null;
        var (held, replyTaken) = await Call(static async (db, k) =>
        {
            var outbound = k.Outbound is { } o ? db.StringGetAsync(o) : Task.FromResult(RedisValue.Null);
            var reply = k.Reply is { } r ? db.KeyExistsAsync(r) : Task.FromResult(false);
            await Task.WhenAll(outbound, reply).ConfigureAwait(false);
            return (outbound.Result, reply.Result);
        }, (Outbound: outboundElsewhere?.KeyOf(connection.OutboundKey), Reply: replyElsewhere?.KeyOf(connection.ReplyKey)), cancellationToken).ConfigureAwait(false);
        if (!held.IsNull && RecordCodec.TryReadRecord((byte[])held!, out var existing)) return new NatInsertOutcome(NatInsertStatus.OutboundTaken, existing);
        return replyTaken ? new NatInsertOutcome(NatInsertStatus.ReplyTaken, default) : null;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Never waits for Redis: the near cache takes the new last-seen time at once (so the translator's next refresh is
    /// a refresh interval away) and the refresh goes to Redis in the background, one per key at a time. While Redis is
    /// down it is skipped; the connection's Redis TTL is long compared with the refresh interval.
    /// </remarks>
    public ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default)
    {
        _nearCache.Touched(key, now);
        if (_availability.IsAvailable && _touching.TryAdd(key, 0)) _ = TouchRemoteAsync(key, now);
        return default;
    }

    private async Task TouchRemoteAsync(FlowKey key, long now)
    {
        try
        {
            var lastSeen = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(lastSeen, now);
            var (first, second) = ShardsHolding(key);
            var touched = (long)await Script(LuaScripts.Touch, [first.KeyOf(key)], [lastSeen, TtlFor(key.Protocol), TransitoryTtlFor(key.Protocol), first.KeyPrefix, first.Tag],
                CancellationToken.None).ConfigureAwait(false);
            if (touched == 0 && second is not null)
                await Script(LuaScripts.Touch, [second.KeyOf(key)], [lastSeen, TtlFor(key.Protocol), TransitoryTtlFor(key.Protocol), second.KeyPrefix, second.Tag],
                    CancellationToken.None).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            // The translator refreshes again after the next refresh interval.
        }
        finally
        {
            _touching.TryRemove(key, out _);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Waited for (unlike a refresh): the packet that changed the state goes on only once every router can see the new state.</remarks>
    public async ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now,
        CancellationToken cancellationToken = default)
    {
        var lastSeen = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(lastSeen, now);
        var (first, second) = ShardsHolding(key);
        long had = -1;
        foreach (var shard in second is null ? [first] : new[] { first, second })
        {
            had = (long)await Script(LuaScripts.UpdateState, [shard.KeyOf(key)],
                [lastSeen, (int)expected, new[] { (byte)flags }, TtlFor(key.Protocol), TransitoryTtlFor(key.Protocol), shard.KeyPrefix, shard.Tag],
                cancellationToken).ConfigureAwait(false);
            if (had >= 0) break;
        }
        if (had < 0)
        {
            _nearCache.Remove(key);
            return null;
        }
        var held = (NatConnectionFlags)had;
        if (held == expected) _nearCache.Updated(key, flags, now);
        else _nearCache.Updated(key, held, null); // another router (or packet) changed it first: remember what Redis holds
        return held;
    }

    /// <inheritdoc/>
    public async ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default)
    {
        var (first, second) = ShardsHolding(key);
        var result = await Script(LuaScripts.Remove, [first.KeyOf(key)], [first.Tag], cancellationToken).ConfigureAwait(false);
        if (result.IsNull && second is not null) result = await Script(LuaScripts.Remove, [second.KeyOf(key)], [second.Tag], cancellationToken).ConfigureAwait(false);
        if (result.IsNull || !RecordCodec.TryReadRecord((byte[])result!, out var removed)) return default;
        await PublishRemovedAsync([removed.Connection]).ConfigureAwait(false);
        return removed;
    }

    /// <inheritdoc/>
    public async ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken = default)
    {
        // The host's source-NAT connections are in its own shard; the redirects that reach it in the shards of their ports.
        int count = 0;
        foreach (var shard in _shards.All)
            count += await RemoveConnectionsAsync(shard, host, removed, cancellationToken).ConfigureAwait(false);
        return count;
    }

    private async Task<int> RemoveConnectionsAsync(TableShard shard, Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken)
    {
        var hostIndexes = shard.HostIndexesOf(host);
        int count = 0;
        long left;
        do
        {
            var result = (RedisResult[])(await Script(LuaScripts.RemoveHost, hostIndexes, [shard.Tag, RemoveChunk], cancellationToken).ConfigureAwait(false))!;
            left = (long)result[0];
            var connections = new List<NatConnection>(result.Length - 1);
            for (int i = 1; i < result.Length; i++)
                if (RecordCodec.TryReadRecord((byte[])result[i]!, out var lookup)) connections.Add(lookup.Connection);
            removed.AddRange(connections);
            count += connections.Count;
            await PublishRemovedAsync(connections).ConfigureAwait(false);
        }
        while (left > 0);
        return count;
    }

    /// <inheritdoc/>
    /// <remarks>The table's recorded shard count stays: it describes the table, which routers go on sharing.</remarks>
    public async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        foreach (var shard in _shards.All)
        foreach (var batch in await ScanAsync(shard.Pattern, cancellationToken).ConfigureAwait(false))
        {
            var keys = batch.Where(key => key != _layoutKey).ToArray(); // one shard: "{prefix}:*" holds the shard count too
            // A shard is one slot, so its keys go in one DEL on a cluster too.
            if (keys.Length > 0) await Call(static (db, k) => db.KeyDeleteAsync(k), keys, cancellationToken).ConfigureAwait(false);
        }
        _nearCache.Clear();
        await PublishAsync([]).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes the table from Redis altogether: every connection, as <see cref="ClearAsync"/>, and the recorded shard
    /// count, so that the prefix is free for a table of any layout. For a throwaway table; routers still using the table
    /// would record their count again only when they restart.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>Completes when the table is gone.</returns>
    /// <exception cref="NatStoreUnavailableException">Redis did not answer.</exception>
    public async ValueTask DeleteTableAsync(CancellationToken cancellationToken = default)
    {
        await ClearAsync(cancellationToken).ConfigureAwait(false);
        await Call(static (db, k) => db.KeyDeleteAsync(k), _layoutKey, cancellationToken).ConfigureAwait(false);
    }

    // ---- invalidation ------------------------------------------------------------------------------------------

    private Task PublishRemovedAsync(IReadOnlyList<NatConnection> connections)
    {
        var message = new byte[connections.Count * 2 * RecordCodec.KeyLength];
        for (int i = 0; i < connections.Count; i++)
        {
            RecordCodec.WriteKey(message.AsSpan(2 * i * RecordCodec.KeyLength), connections[i].OutboundKey);
            RecordCodec.WriteKey(message.AsSpan((2 * i + 1) * RecordCodec.KeyLength), connections[i].ReplyKey);
            _nearCache.Remove(connections[i].OutboundKey);
            _nearCache.Remove(connections[i].ReplyKey);
        }
        return connections.Count == 0 ? Task.CompletedTask : PublishAsync(message);
    }

    private async Task PublishAsync(byte[] message)
    {
        try
        {
            await _redis.GetSubscriber().PublishAsync(_invalidations, message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Other routers' near caches still drop the entries within the freshness bound.
            RedisStoreLog.InvalidationNotPublished(_logger, _options.KeyPrefix, RedisStoreLog.ReasonOf(e));
        }
    }

    /// <summary>
    /// Subscribes to other routers' removals. Best effort: while Redis is unreachable it fails and is tried again on
    /// recovery; meanwhile the near cache's freshness bound still limits how long a removed connection is served.
    /// </summary>
    private async Task SubscribeAsync()
    {
        if (Interlocked.Exchange(ref _subscribing, 1) == 1) return;
        try
        {
            await _redis.GetSubscriber().SubscribeAsync(_invalidations, (_, message) => Invalidate(message)).ConfigureAwait(false);
            Volatile.Write(ref _subscribed, 1);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            RedisStoreLog.NotSubscribed(_logger, _options.KeyPrefix, RedisStoreLog.ReasonOf(e));
        }
        finally
        {
            Volatile.Write(ref _subscribing, 0);
        }
    }

    private void OnAvailableAgain()
    {
        if (Volatile.Read(ref _subscribed) == 0) _ = SubscribeAsync();
    }

    private void Invalidate(RedisValue message)
    {
        var bytes = (byte[]?)message;
        if (bytes is null || bytes.Length == 0)
        {
            _nearCache.Clear(); // an empty message means the table was cleared
            return;
        }
        for (int offset = 0; offset + RecordCodec.KeyLength <= bytes.Length; offset += RecordCodec.KeyLength)
            _nearCache.Remove(RecordCodec.ReadKey(bytes.AsSpan(offset)));
    }

    /// <summary>
    /// Waits until <see cref="RedisStoreOptions.ReplicaAcknowledgements"/> replicas hold every write sent so far on the
    /// connection to the master of <paramref name="key"/>'s slot — the insert just made included, as StackExchange.Redis
    /// sends one endpoint's commands over one connection, in order. Fewer in time: the insert is not acknowledged.
    /// </summary>
    private async Task WaitForReplicas(RedisKey key, CancellationToken cancellationToken)
    {
        int wanted = _options.ReplicaAcknowledgements;
        long milliseconds = Math.Max(1, (long)_options.OperationTimeout.TotalMilliseconds);
        // The slot's master from the client's own slot map: no round trip (IdentifyEndpoint would send one, synchronously).
        IServer master;
        try
        {
            master = _redis.GetServer(key, flags: CommandFlags.DemandMaster);
        }
        catch (RedisConnectionException e)
        {
            throw Unavailable(e);
        }
        var acknowledged = await Call(static (_, s) => s.master.ExecuteAsync("WAIT", s.wanted, s.milliseconds), (master, wanted, milliseconds),
            cancellationToken, _options.OperationTimeout * 2).ConfigureAwait(false);
        long replicas = acknowledged is null || acknowledged.IsNull ? 0 : (long)acknowledged;
        if (replicas < wanted)
            throw new NatStoreUnavailableException($"Redis ({ServerName}): {replicas} of {wanted} replica(s) acknowledged the insert within " +
                $"{milliseconds} ms, so it is not acknowledged (ReplicaAcknowledgements).");
    }

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

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _availability.Stop();
        if (_ownsConnection) await _redis.DisposeAsync().ConfigureAwait(false);
        else await _redis.GetSubscriber().UnsubscribeAsync(_invalidations).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _availability.Stop();
        if (_ownsConnection) _redis.Dispose();
        else _redis.GetSubscriber().Unsubscribe(_invalidations);
    }
}
