namespace NatFramework.Stores.Redis.Tests;

/// <summary>One server shared by a test class.</summary>
public sealed class RedisServerFixture : IDisposable
{
    public RedisServer Server { get; } = new();

    /// <summary>Skips the test, with the reason, when redis-server is not installed.</summary>
    public void RequireServer() => Skip.If(Server.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");

    public void Dispose() => Server.Dispose();
}
