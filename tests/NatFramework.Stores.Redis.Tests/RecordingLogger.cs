namespace NatFramework.Stores.Redis.Tests;

/// <summary>Keeps what a store logs (Information and above), as text, for a test to read.</summary>
internal sealed class RecordingLogger : Microsoft.Extensions.Logging.ILogger<RedisNatStore>
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _entries = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Information;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) _entries.Enqueue(formatter(state, exception));
    }
}
