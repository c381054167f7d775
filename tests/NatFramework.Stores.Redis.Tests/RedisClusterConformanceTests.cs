namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// The Redis store passes the conformance suite against a Redis Cluster (three masters, three replicas): a table's keys
/// share one hash tag, so each table's scripts run on the master of one slot, and the tables of different prefixes
/// spread over the masters.
/// </summary>
public sealed class RedisClusterConformanceTests(RedisClusterFixture fixture) : RedisConformanceTests, IClassFixture<RedisClusterFixture>
{
    protected override string Configuration => fixture.Cluster.Configuration;

    protected override string? WhyNot => fixture.Cluster.WhyNot;
}
