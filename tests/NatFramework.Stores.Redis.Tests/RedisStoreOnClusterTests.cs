namespace NatFramework.Stores.Redis.Tests;

/// <summary>The shared-table tests on a Redis Cluster of three masters and three replicas, shared by this class's tests.</summary>
public sealed class RedisStoreOnClusterTests(RedisClusterFixture fixture) : RedisStoreSharedTableTests, IClassFixture<RedisClusterFixture>
{
    protected override string Configuration => fixture.Cluster.Configuration;

    protected override void RequireRedis() => fixture.RequireCluster();
}
