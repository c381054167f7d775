namespace NatFramework.Stores.Redis.Tests;

/// <summary>One Redis Cluster shared by a test class (started once: creating a cluster takes a few seconds).</summary>
public sealed class RedisClusterFixture : IDisposable
{
    public RedisCluster Cluster { get; } = new();

    /// <summary>Skips the test, with the reason, when redis-server is not installed.</summary>
    public void RequireCluster() => Skip.If(Cluster.WhyNot is not null, Cluster.WhyNot);

    public void Dispose() => Cluster.Dispose();
}
