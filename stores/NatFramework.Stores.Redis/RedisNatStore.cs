using System.Collections.Concurrent;
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
public sealed partial class RedisNatStore : IAsyncNatStore, IAsyncNatBatchLookup, IAsyncNatHostIndex, INatNativeExpiry, IAsyncNatStoreStatistics, INatPortClasses,
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
