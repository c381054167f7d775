namespace NatFramework.Stores.Redis.Tests;

/// <summary>The Redis store passes the conformance suite against a real redis-server, shared by this class's tests.</summary>
public sealed class RedisStoreConformanceTests(RedisServerFixture fixture) : RedisConformanceTests, IClassFixture<RedisServerFixture>
{
    protected override string Configuration => fixture.Server.Configuration;

    protected override string? WhyNot => fixture.Server.Executable is null ? "redis-server is not installed (bash tests/run.sh installs it as root)" : null;
}
