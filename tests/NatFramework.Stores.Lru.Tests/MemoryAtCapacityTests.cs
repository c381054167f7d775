using NatFramework.StoreConformance;

namespace NatFramework.Stores.Lru.Tests;

/// <summary>A full LRU table keeps its memory flat under connection churn (alone in the process: see the collection).</summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class MemoryAtCapacityTests
{
    [Fact]
    public async Task A_full_table_under_churn_keeps_its_memory_flat()
    {
        const int Capacity = 10_000;
        var store = new LruNatStore(new LruStoreOptions { TcpCapacity = Capacity });
        var nat = new LruNatTranslator(store, new NatOptions { Policy = MemoryAtCapacity.Policy });
        var measured = await MemoryAtCapacity.MeasureAsync(packet => new(nat.Translate(packet, NatSide.Inside)), Capacity,
            tableSize: () => Task.FromResult((long)store.GetStatistics().Tcp));
        MemoryAtCapacity.AssertFlat(measured);
    }
}

/// <summary>Tests that read the process's heap run alone, after the assembly's parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "memory-measurement";
}
