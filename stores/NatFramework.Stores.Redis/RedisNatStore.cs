using System.Buffers.Binary;
using System.Runtime.CompilerServices;
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
/// Writes are Lua scripts (atomic: both directions and the host index together). Expiry is Redis's own key expiry,
/// refreshed by the translator at most once per refresh interval. Lookups go through an in-process near cache
/// (fresh for at most <see cref="RedisStoreOptions.NearCacheFreshness"/>; removals are also pushed to every router by
/// pub/sub); misses of a batch are one <c>MGET</c>. A Redis that does not answer within
/// <see cref="RedisStoreOptions.OperationTimeout"/> makes operations throw <see cref="NatStoreUnavailableException"/>,
/// which the generated translator reports as <c>StoreUnavailable</c>; established flows keep being translated from the
/// near cache meanwhile, and the store recovers by itself when Redis returns.
/// </remarks>
public sealed class RedisNatStore : IAsyncNatStore, IAsyncNatBatchLookup, IAsyncNatHostIndex, INatNativeExpiry, IAsyncDisposable, IDisposable
{
    private readonly RedisStoreOptions _options;
    private readonly ILogger _logger;
    private readonly IConnectionMultiplexer _redis;
    private readonly bool _ownsConnection;
    private readonly byte[] _keyPrefix;
    private readonly byte[] _hostPrefix;
    private readonly RedisChannel _invalidations;
    private readonly NearCache _nearCache;
    private long _tcpTtl, _udpTtl, _icmpTtl;
    private int _unavailable;
    private int _subscribed;
    private int _subscribing;

    /// <summary>Connects to Redis as <paramref name="options"/> say. Connecting never fails: a Redis that is down now is reported per operation.</summary>
    public RedisNatStore(RedisStoreOptions options, ILogger<RedisNatStore>? logger = null)
        : this(options, Connect(options), ownsConnection: true, logger)
    {
    }

    /// <summary>Uses an existing connection (which stays the caller's to dispose).</summary>
    public RedisNatStore(RedisStoreOptions options, IConnectionMultiplexer connection, ILogger<RedisNatStore>? logger = null)
        : this(options, connection, ownsConnection: false, logger)
    {
    }

    private RedisNatStore(RedisStoreOptions options, IConnectionMultiplexer connection, bool ownsConnection, ILogger<RedisNatStore>? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _redis = connection;
        _ownsConnection = ownsConnection;
        _logger = logger ?? NullLogger<RedisNatStore>.Instance;
        string tag = "{" + options.KeyPrefix + "}";
        _keyPrefix = System.Text.Encoding.UTF8.GetBytes(tag + ":k:");
        _hostPrefix = System.Text.Encoding.UTF8.GetBytes(tag + ":h:");
        _invalidations = RedisChannel.Literal(tag + ":invalidate");
        _nearCache = new NearCache(options.NearCacheCapacity, options.NearCacheFreshness);
        ConfigureExpiry(null);
        _ = SubscribeAsync();
        WarmUp();
    }

    /// <summary>
    /// Best effort, at construction: one round trip and the scripts loaded into Redis's script cache, so the first
    /// packets do not pay for connection set-up, code warm-up and script compilation inside their operation timeout.
    /// A Redis that is down now is not an error here; operations report it.
    /// </summary>
    private void WarmUp()
    {
        try
        {
            Database.Ping();
            foreach (var endpoint in _redis.GetEndPoints())
            {
                var server = _redis.GetServer(endpoint);
                if (!server.IsConnected || server.IsReplica) continue;
                foreach (var script in new[] { LuaScripts.Insert, LuaScripts.Touch, LuaScripts.Remove, LuaScripts.RemoveHost })
                    server.ScriptLoad(script);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogDebug(e, "Redis NAT store {Prefix}: warm-up skipped", _options.KeyPrefix);
        }
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

    /// <summary>Requests sent to Redis so far (a batch lookup's <c>MGET</c> is one), for diagnostics and metrics.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    private long _roundTrips;

    /// <summary>True while the last operation reached Redis.</summary>
    public bool IsAvailable => Volatile.Read(ref _unavailable) == 0;

    /// <inheritdoc/>
    public void ConfigureExpiry(NatTimeouts? timeouts)
    {
        _tcpTtl = timeouts is null ? 0 : (long)timeouts.Tcp.TotalMilliseconds;
        _udpTtl = timeouts is null ? 0 : (long)timeouts.Udp.TotalMilliseconds;
        _icmpTtl = timeouts is null ? 0 : (long)timeouts.Icmp.TotalMilliseconds;
    }

    private long TtlFor(NatProtocol protocol) => protocol switch { NatProtocol.Tcp => _tcpTtl, NatProtocol.Udp => _udpTtl, _ => _icmpTtl };

    private IDatabase Database => _redis.GetDatabase();

    private RedisKey KeyOf(in FlowKey key)
    {
        var bytes = new byte[_keyPrefix.Length + RecordCodec.KeyLength];
        _keyPrefix.CopyTo(bytes, 0);
        RecordCodec.WriteKey(bytes.AsSpan(_keyPrefix.Length), key);
        return bytes;
    }

    private RedisKey HostKeyOf(Ipv4Address host)
    {
        var bytes = new byte[_hostPrefix.Length + 4];
        _hostPrefix.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(_hostPrefix.Length), host.Value);
        return bytes;
    }

    // ---- reads -------------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public ValueTask<NatLookup> LookupAsync(FlowKey key, long expiredBefore, CancellationToken cancellationToken = default)
        => _nearCache.TryGet(key, allowStale: false, out var cached) ? new ValueTask<NatLookup>(cached) : LookupRemoteAsync(key, cancellationToken);

    private async ValueTask<NatLookup> LookupRemoteAsync(FlowKey key, CancellationToken cancellationToken)
    {
        RedisValue value;
        try
        {
            value = await Call(Database.StringGetAsync(KeyOf(key)), cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException) when (_options.ServeFromNearCacheWhenUnavailable && _nearCache.TryGet(key, allowStale: true, out var stale))
        {
            return stale;
        }
        return Remember(key, value);
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

    /// <summary>Near-cache hits first; every miss of the batch in one <c>MGET</c> (one round trip).</summary>
    public async ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken = default)
    {
        List<int>? missing = null; // allocated only when something misses: a batch of established flows allocates nothing
        for (int i = 0; i < keys.Length; i++)
        {
            if (_nearCache.TryGet(keys.Span[i], allowStale: false, out var cached)) results.Span[i] = cached;
            else (missing ??= new List<int>()).Add(i);
        }
        if (missing is null) return;
        var redisKeys = new RedisKey[missing.Count];
        for (int m = 0; m < missing.Count; m++) redisKeys[m] = KeyOf(keys.Span[missing[m]]);
        RedisValue[] values;
        try
        {
            values = await Call(Database.StringGetAsync(redisKeys), cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException) when (_options.ServeFromNearCacheWhenUnavailable)
        {
            bool anyServed = false;
            foreach (int i in missing)
            {
                bool stale = _nearCache.TryGet(keys.Span[i], allowStale: true, out var cached);
                results.Span[i] = stale ? cached : default;
                anyServed |= stale;
            }
            if (!anyServed) throw;
            return;
        }
        for (int m = 0; m < missing.Count; m++) results.Span[missing[m]] = Remember(keys.Span[missing[m]], values[m]);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ContainsAsync(FlowKey key, long expiredBefore, CancellationToken cancellationToken = default)
        => await Call(Database.KeyExistsAsync(KeyOf(key)), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    public async IAsyncEnumerable<NatConnection> GetConnectionsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        byte[] pattern = [.. _keyPrefix, (byte)'*'];
        foreach (var batch in await ScanAsync(pattern, cancellationToken).ConfigureAwait(false))
        {
            var values = await Call(Database.StringGetAsync(batch), cancellationToken).ConfigureAwait(false);
            foreach (var value in values)
                if (!value.IsNull && RecordCodec.TryReadRecord((byte[])value!, out var lookup) && lookup.Direction == FlowDirection.Outbound)
                    yield return lookup.Connection;
        }
    }

    private async Task<List<RedisKey[]>> ScanAsync(RedisValue pattern, CancellationToken cancellationToken)
    {
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
    public async ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, long expiredBefore, CancellationToken cancellationToken = default)
    {
        var outboundKey = connection.OutboundKey;
        var keyBytes = new byte[RecordCodec.KeyLength];
        RecordCodec.WriteKey(keyBytes, outboundKey);
        RedisKey[] keys = [KeyOf(outboundKey), KeyOf(connection.ReplyKey), HostKeyOf(connection.InsideHost)];
        RedisValue[] args =
        [
            RecordCodec.Record(connection, FlowDirection.Outbound), RecordCodec.Record(connection, FlowDirection.Reply),
            TtlFor(connection.Protocol), keyBytes,
        ];
        var result = (RedisResult[])(await Call(Database.ScriptEvaluateAsync(LuaScripts.Insert, keys, args), cancellationToken).ConfigureAwait(false))!;
        switch ((int)result[0])
        {
            case 0:
                _nearCache.Remove(outboundKey);
                _nearCache.Remove(connection.ReplyKey);
                return new NatInsertOutcome(NatInsertStatus.Inserted, default);
            case 1:
                RecordCodec.TryReadRecord((byte[])result[1]!, out var existing);
                return new NatInsertOutcome(NatInsertStatus.OutboundTaken, existing);
            default:
                return new NatInsertOutcome(NatInsertStatus.ReplyTaken, default);
        }
    }

    /// <inheritdoc/>
    public async ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default)
    {
        var lastSeen = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(lastSeen, now);
        await Call(Database.ScriptEvaluateAsync(LuaScripts.Touch, [KeyOf(key)], [lastSeen, TtlFor(key.Protocol), _keyPrefix]), cancellationToken).ConfigureAwait(false);
        _nearCache.Touched(key, now);
    }

    /// <inheritdoc/>
    public async ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default)
    {
        var result = await Call(Database.ScriptEvaluateAsync(LuaScripts.Remove, [KeyOf(key)], [_keyPrefix, _hostPrefix]), cancellationToken).ConfigureAwait(false);
        if (result.IsNull || !RecordCodec.TryReadRecord((byte[])result!, out var removed)) return default;
        await PublishRemovedAsync([removed.Connection]).ConfigureAwait(false);
        return removed;
    }

    /// <inheritdoc/>
    public async ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken = default)
    {
        const int Chunk = 500; // connections per script: Redis serves other clients between chunks
        var hostBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(hostBytes, host.Value);
        int count = 0;
        long left;
        do
        {
            var result = (RedisResult[])(await Call(Database.ScriptEvaluateAsync(LuaScripts.RemoveHost, [HostKeyOf(host)], [_keyPrefix, hostBytes, Chunk]),
                cancellationToken).ConfigureAwait(false))!;
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
    public async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        var pattern = System.Text.Encoding.UTF8.GetBytes("{" + _options.KeyPrefix + "}:*");
        foreach (var batch in await ScanAsync(pattern, cancellationToken).ConfigureAwait(false))
            await Call(Database.KeyDeleteAsync(batch), cancellationToken).ConfigureAwait(false);
        _nearCache.Clear();
        await PublishAsync([]).ConfigureAwait(false);
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
            _logger.LogDebug(e, "Could not publish a near-cache invalidation");
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
            _logger.LogDebug(e, "Could not subscribe to near-cache invalidations yet");
        }
        finally
        {
            Volatile.Write(ref _subscribing, 0);
        }
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

    // ---- availability ------------------------------------------------------------------------------------------

    /// <summary>Awaits a Redis call within the operation timeout; failures to reach Redis become <see cref="NatStoreUnavailableException"/>.</summary>
    private async Task<T> Call<T>(Task<T> call, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _roundTrips);
        try
        {
            var result = await call.WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
            if (Interlocked.Exchange(ref _unavailable, 0) == 1)
                _logger.LogInformation("Redis NAT store {Prefix} is available again", _options.KeyPrefix);
            if (Volatile.Read(ref _subscribed) == 0) _ = SubscribeAsync();
            return result;
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or TimeoutException
            || (e is RedisServerException server && IsTransientServerError(server)))
        {
            throw Unavailable(e);
        }
    }

    private static bool IsTransientServerError(RedisServerException e)
        => e.Message.StartsWith("LOADING", StringComparison.Ordinal) || e.Message.StartsWith("BUSY", StringComparison.Ordinal)
           || e.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal) || e.Message.StartsWith("NOAUTH", StringComparison.Ordinal);

    private NatStoreUnavailableException Unavailable(Exception cause)
    {
        // Logged once per outage, not once per packet.
        if (Interlocked.Exchange(ref _unavailable, 1) == 0)
            _logger.LogWarning(cause, "Redis NAT store {Prefix} is unavailable: {Reason}", _options.KeyPrefix, cause.Message);
        return new NatStoreUnavailableException($"Redis ({_options.Configuration.Split(',')[0]}) did not answer within {_options.OperationTimeout.TotalMilliseconds} ms: {cause.Message}", cause);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection) await _redis.DisposeAsync().ConfigureAwait(false);
        else await _redis.GetSubscriber().UnsubscribeAsync(_invalidations).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsConnection) _redis.Dispose();
        else _redis.GetSubscriber().Unsubscribe(_invalidations);
    }
}
