using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using NatFramework.Packets;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>A remote store on the library's meter: each store call timed, the shared table's size published.</summary>
public sealed class RedisStoreMetricsTests : IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
        _redis.Dispose();
    }

    [SkippableFact]
    public async Task Store_calls_are_timed_by_operation_and_the_tables_size_is_published()
    {
        Skip.If(_redis.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");
        var durations = new ConcurrentBag<(string Operation, double Seconds)>();
        var active = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == NatMetrics.MeterName) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "natframework.store.duration" && Tag(tags, "nat.store") == "RedisNatStore") durations.Add((Tag(tags, "nat.operation")!, value));
        });
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "natframework.connections.active" && Tag(tags, "nat.store") == "RedisNatStore") active[Tag(tags, "nat.protocol")!] = value;
        });
        listener.Start();

        var store = new RedisNatStore(new RedisStoreOptions { Configuration = _redis.Configuration, KeyPrefix = "metrics", OperationTimeout = TimeSpan.FromSeconds(2) });
        _owned.Add(store);
        var nat = new RedisNatTranslator(store, new NatOptions
        {
            Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Ipv4Address.Parse("198.51.100.1"))] },
        });
        for (ushort port = 4000; port < 4004; port++)
        {
            var packet = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), port, Ipv4Address.Parse("198.51.100.2"), 53, "q"u8);
            Assert.True((await nat.TranslateAsync(packet, NatSide.Inside)).Created);
        }

        Assert.Contains(durations, d => d.Operation == "lookup" && d.Seconds > 0);
        Assert.Contains(durations, d => d.Operation == "insert" && d.Seconds > 0);
        Assert.All(durations, d => Assert.InRange(d.Seconds, 0, 30));

        // The first collection asks Redis in the background and publishes what it had (nothing yet); a later one has the answer.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (active.GetValueOrDefault("udp") < 4 && DateTime.UtcNow < deadline)
        {
            listener.RecordObservableInstruments();
            await Task.Delay(20);
        }
        Assert.True(active.GetValueOrDefault("udp") >= 4, $"natframework.connections.active udp for RedisNatStore: {active.GetValueOrDefault("udp")}");
        GC.KeepAlive(nat);
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
            if (tag.Key == key) return tag.Value as string;
        return null;
    }
}
