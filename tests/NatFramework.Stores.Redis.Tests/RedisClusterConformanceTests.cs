using NatFramework.StoreConformance;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// The Redis store passes the conformance suite against a Redis Cluster (three masters, three replicas), each test under
/// its own key prefix: a table's keys share one hash tag, so each table's scripts run on the master of one slot, and
/// the tables of different prefixes spread over the masters.
/// </summary>
[StoreTraits(ExpiryFollowsTranslatorClock = false, HasStatistics = true, LargeTableConnections = 20_000)]
public sealed class RedisClusterConformanceTests : NatStoreConformanceTests, IClassFixture<RedisClusterFixture>
{
    private readonly RedisClusterFixture _fixture;
    private readonly List<RedisNatStore> _stores = new();

    public RedisClusterConformanceTests(RedisClusterFixture fixture) => _fixture = fixture;

    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
    {
        if (_fixture.Cluster.WhyNot is { } reason) throw new InvalidOperationException(reason);
        var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = _fixture.Cluster.Configuration,
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
