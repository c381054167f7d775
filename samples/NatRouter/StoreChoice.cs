using Microsoft.Extensions.Logging;
using NatFramework;
using NatFramework.Stores.LiteDb;
using NatFramework.Stores.Lru;
using NatFramework.Stores.Redis;

namespace NatRouter;

/// <summary>
/// The store the command line names, behind the one translator surface every store shares, with what it can tell about
/// itself for the metrics; disposed (flushed) on exit.
/// </summary>
public sealed class StoreChoice : IDisposable
{
    private readonly LruNatStore? _lru;
    private readonly RedisNatStore? _redis;
    private readonly LiteDbNatStore? _litedb;

    /// <summary>
    /// Creates the store and its translator; <paramref name="redisTimeout"/> bounds each Redis operation (250 ms), and
    /// <paramref name="redisShards"/> spreads the Redis table over that many shards (<see cref="RedisStoreOptions.Shards"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The store name is not lru, redis or litedb.</exception>
    /// <exception cref="IOException">The LiteDB file is locked by another process.</exception>
    /// <exception cref="InvalidDataException">The LiteDB file cannot be read.</exception>
    public StoreChoice(string name, NatOptions options, string redisConfiguration, string litedbPath, ILoggerFactory? logging = null, TimeSpan? redisTimeout = null,
        int redisShards = 1)
        : this(name, options, redisConfiguration, litedbPath, logging, redisTimeout, redisKeyPrefix: "nat", redisShards)
    {
    }

    private StoreChoice(string name, NatOptions options, string redisConfiguration, string litedbPath, ILoggerFactory? logging, TimeSpan? redisTimeout,
        string redisKeyPrefix, int redisShards)
    {
        Name = name.ToLowerInvariant();
        switch (Name)
        {
            case "lru":
                _lru = new LruNatStore(LruStoreOptions.From(options));
                Translator = new LruNatTranslator(_lru, options, logger: logging?.CreateLogger<LruNatTranslator>());
                break;
            case "redis":
                _redis = new RedisNatStore(new RedisStoreOptions
                {
                    Configuration = redisConfiguration, OperationTimeout = redisTimeout ?? TimeSpan.FromMilliseconds(250), KeyPrefix = redisKeyPrefix,
                    Shards = redisShards, TcpCapacity = options.TcpCapacity, UdpCapacity = options.UdpCapacity, IcmpCapacity = options.IcmpCapacity,
                }, logging?.CreateLogger<RedisNatStore>());
                Translator = new RedisNatTranslator(_redis, options, logger: logging?.CreateLogger<RedisNatTranslator>());
                break;
            case "litedb":
                _litedb = new LiteDbNatStore(new LiteDbStoreOptions
                {
                    Path = litedbPath, ExpireOnOpen = options.Timeouts,
                    TcpCapacity = options.TcpCapacity, UdpCapacity = options.UdpCapacity, IcmpCapacity = options.IcmpCapacity,
                }, logging?.CreateLogger<LiteDbNatStore>());
                Translator = new LiteDbNatTranslator(_litedb, options, logger: logging?.CreateLogger<LiteDbNatTranslator>());
                break;
            default:
                throw new ArgumentException($"--store '{name}' is not one of lru, redis, litedb.", nameof(name));
        }
    }

    /// <summary>
    /// A throwaway store of the same kind, for <see cref="RouterWarmUp"/>: its translator is the same generated type as
    /// the real one, so running packets through it compiles the real packet path, while the real table sees nothing.
    /// LRU: a small table; LiteDB: a file in a temporary folder, deleted on dispose; Redis: the same server under a key
    /// prefix of its own, cleared on dispose (best effort: with Redis down the warm-up just fails fast).
    /// </summary>
    public static StoreChoice ForWarmUp(string name, NatOptions options, string redisConfiguration, TimeSpan? redisTimeout = null, int redisShards = 1)
    {
        var small = options.Clone();
        small.TcpCapacity = small.UdpCapacity = small.IcmpCapacity = 64;
        string? folder = name.Equals("litedb", StringComparison.OrdinalIgnoreCase) ? Directory.CreateTempSubdirectory("natrouter-warmup-").FullName : null;
        return new StoreChoice(name, small, redisConfiguration, folder is null ? "" : Path.Combine(folder, "warmup.db"), null, redisTimeout,
            redisKeyPrefix: "natwarmup-" + Guid.NewGuid().ToString("N")[..12], redisShards)
        { _warmUpFolder = folder, _isWarmUp = true };
    }

    private string? _warmUpFolder;
    private bool _isWarmUp;

    /// <summary>lru, redis or litedb.</summary>
    public string Name { get; }

    /// <summary>The translator over the chosen store.</summary>
    public INatTranslator Translator { get; }

    /// <summary>Connections of <paramref name="protocol"/> in the table (on Redis the shared table's, every router's; null while Redis is down).</summary>
    public long? Connections(NatProtocol protocol)
    {
        if (_redis is null) return _lru?.Count(protocol) ?? _litedb?.CountOf(protocol);
        try
        {
            return _redis.CountAsync(protocol).AsTask().GetAwaiter().GetResult();
        }
        catch (NatStoreUnavailableException)
        {
            return null;
        }
    }

    /// <summary>Connections evicted to make room, when the store evicts (the LRU store).</summary>
    public long? Evicted => _lru is null ? null : _lru.Evictions(NatProtocol.Tcp) + _lru.Evictions(NatProtocol.Udp) + _lru.Evictions(NatProtocol.Icmp);

    /// <summary>Idle connections reclaimed, when the store counts them (the LRU store; Redis expires keys itself).</summary>
    public long? Expired => _lru is null ? null : _lru.Expirations(NatProtocol.Tcp) + _lru.Expirations(NatProtocol.Udp) + _lru.Expirations(NatProtocol.Icmp);

    /// <summary>Store-side failures: failed LiteDB writes (retried), or 1 while Redis is unreachable.</summary>
    public long? Failures => _litedb?.WriteFailures ?? (_redis is null ? null : _redis.IsAvailable ? 0 : 1);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_isWarmUp && _redis is not null)
        {
            try
            {
                _redis.DeleteTableAsync().AsTask().Wait(TimeSpan.FromSeconds(2));
            }
            catch (AggregateException)
            {
                // Redis is down: its keys expire with their TTL anyway.
            }
        }
        _redis?.Dispose();
        _litedb?.Dispose();
        if (_warmUpFolder is not null) Directory.Delete(_warmUpFolder, recursive: true);
    }
}
