namespace NatFramework.Stores.Redis.Tests;

/// <summary>The shared-table tests with each table spread over three shards of the Redis Cluster (one per master).</summary>
public sealed class RedisStoreOnShardedClusterTests(RedisClusterFixture fixture) : RedisStoreSharedTableTests, IClassFixture<RedisClusterFixture>
{
    protected override string Configuration => fixture.Cluster.Configuration;

    protected override void RequireRedis() => fixture.RequireCluster();

    protected override int Shards => 3;
}
