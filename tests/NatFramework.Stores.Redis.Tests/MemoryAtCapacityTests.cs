using NatFramework.StoreConformance;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// A full Redis table keeps its memory flat under connection churn, in the router process (the near cache, pending
/// refreshes) and in Redis (<c>used_memory</c>: the connections, their indexes and what the scripts prune). Alone in the
/// process: see the collection.
/// </summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class MemoryAtCapacityTests : IDisposable
{
    private readonly RedisServer _redis = new();

    public void Dispose() => _redis.Dispose();

    [SkippableFact]
    public async Task A_full_table_under_churn_keeps_its_memory_flat_here_and_in_redis()
    {
        Skip.If(_redis.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");
        const int Capacity = 5_000;
        using var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = _redis.Configuration, KeyPrefix = "memory", TcpCapacity = Capacity, OperationTimeout = TimeSpan.FromSeconds(2),
        });
        var nat = new RedisNatTranslator(store, new NatOptions { Policy = MemoryAtCapacity.Policy });
        using var admin = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var usedMemory = new List<long>();
        var measured = await MemoryAtCapacity.MeasureAsync(packet => nat.TranslateAsync(packet, NatSide.Inside), Capacity,
            settle: async () => usedMemory.Add(long.Parse((await server.InfoAsync("memory")).SelectMany(g => g).First(p => p.Key == "used_memory").Value,
                System.Globalization.CultureInfo.InvariantCulture)),
            tableSize: async () => await store.CountAsync(NatProtocol.Tcp));
        MemoryAtCapacity.AssertFlat(measured);
        Assert.True(usedMemory[1] <= usedMemory[0] * 1.10, $"Redis's used_memory grew from {usedMemory[0]:N0} to {usedMemory[1]:N0} bytes");
    }
}

/// <summary>Tests that read the process's heap run alone, after the assembly's parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory-measurement";
}
