using NatFramework.StoreConformance;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// The Redis store against the conformance suite, each test under its own key prefix, wherever Redis runs: a single
/// server (<see cref="RedisStoreConformanceTests"/>) or a cluster (<see cref="RedisClusterConformanceTests"/>). Redis
/// expires keys by its own clock, so the fake-clock tests are left out (the shared-table tests cover expiry with real
/// time); each add is a Lua script round trip, so the large-table removal test uses 20,000.
/// </summary>
[StoreTraits(ExpiryFollowsTranslatorClock = false, HasStatistics = true, LargeTableConnections = 20_000)]
public abstract class RedisConformanceTests : NatStoreConformanceTests
{
    private readonly List<RedisNatStore> _stores = new();

    /// <summary>The StackExchange.Redis connection string of the deployment under test.</summary>
    protected abstract string Configuration { get; }

    /// <summary>Why the deployment cannot run here, or null.</summary>
    protected abstract string? WhyNot { get; }

    /// <summary>How many shards each table is spread over (<see cref="RedisStoreOptions.Shards"/>).</summary>
    protected virtual int Shards => 1;

    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
    {
        if (WhyNot is { } reason) throw new InvalidOperationException(reason);
        // The suite checks semantics; a generous timeout keeps a busy CI machine (all test projects at once on two
        // cores) from turning a slow answer into StoreUnavailable. The shared-table tests check the default bound.
        var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = Configuration,
            KeyPrefix = "conformance-" + Guid.NewGuid().ToString("N"),
            OperationTimeout = TimeSpan.FromSeconds(2),
            Shards = Shards,
            TcpCapacity = options.TcpCapacity, UdpCapacity = options.UdpCapacity, IcmpCapacity = options.IcmpCapacity,
        });
        _stores.Add(store);
        return new RedisNatTranslator(store, options, timeProvider);
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var store in _stores) store.Dispose();
    }
}
