namespace NatFramework.Stores.Redis.Tests;

/// <summary>The shared-table tests on a single redis-server of their own.</summary>
public sealed class RedisStoreOnServerTests : RedisStoreSharedTableTests
{
    private readonly RedisServer _redis = new();

    protected override string Configuration => _redis.Configuration;

    protected override void RequireRedis() => Skip.If(_redis.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");

    protected override void Dispose(bool disposing)
    {
        if (disposing) _redis.Dispose();
    }
}
