using NatFramework.StoreConformance;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>The Redis store passes the conformance suite against a real redis-server, each test under its own key prefix.</summary>
[StoreTraits(ExpiryFollowsTranslatorClock = false, HasStatistics = true, LargeTableConnections = 20_000)]
public sealed class RedisStoreConformanceTests : NatStoreConformanceTests, IClassFixture<RedisServerFixture>
{
    private readonly RedisServerFixture _fixture;
    private readonly List<RedisNatStore> _stores = new();

    public RedisStoreConformanceTests(RedisServerFixture fixture) => _fixture = fixture;

    // Redis expires keys by its own clock, so the fake-clock tests are left out (RedisStoreTests covers expiry with
    // real time). Each add is a Lua script round trip: the large-table removal test uses 20,000.

    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
    {
        if (_fixture.Server.Executable is null) throw new InvalidOperationException("redis-server is not installed (bash tests/run.sh installs it as root)");
        // The suite checks semantics; a generous timeout keeps a busy CI machine (all test projects at once on two
        // cores) from turning a slow answer into StoreUnavailable. RedisStoreTests checks the default 250 ms bound.
        var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = _fixture.Server.Configuration,
            KeyPrefix = "conformance-" + Guid.NewGuid().ToString("N"),
            OperationTimeout = TimeSpan.FromSeconds(2),
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
