using NatFramework.StoreConformance;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// The conformance suite against one table spread over three shards of a Redis Cluster (<see cref="RedisStoreOptions.Shards"/>):
/// each shard's slot on another master, connections placed by inside host or forwarded port, public ports drawn from
/// the shard's class. A shard takes only its class's public ports, so the tests that fix a port are left out (the
/// sharded-table tests check what happens to such a port).
/// </summary>
[StoreTraits(ExpiryFollowsTranslatorClock = false, HasStatistics = true, LargeTableConnections = 20_000, TakesAnyPublicPort = false)]
public sealed class RedisShardedClusterConformanceTests(RedisClusterFixture fixture) : RedisConformanceTests, IClassFixture<RedisClusterFixture>
{
    protected override string Configuration => fixture.Cluster.Configuration;

    protected override string? WhyNot => fixture.Cluster.WhyNot;

    protected override int Shards => 3;
}
