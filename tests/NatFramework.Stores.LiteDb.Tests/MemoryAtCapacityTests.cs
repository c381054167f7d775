using NatFramework.StoreConformance;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>
/// A full LiteDB table keeps its memory flat under connection churn: nothing is kept per evicted connection, and
/// LiteDB's page cache, which grows to hold the log between checkpoints and never shrinks, stays small because the
/// writer checkpoints a small log (this assembly runs one class at a time, so the heap is this test's).
/// </summary>
public sealed class MemoryAtCapacityTests : IDisposable
{
    private readonly TableFile _file = new();

    public void Dispose() => _file.Dispose();

    [Fact]
    public async Task A_full_table_under_churn_keeps_its_memory_flat()
    {
        const int Capacity = 10_000;
        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, TcpCapacity = Capacity });
        var nat = new LiteDbNatTranslator(store, new NatOptions { Policy = MemoryAtCapacity.Policy });
        var measured = await MemoryAtCapacity.MeasureAsync(packet => new(nat.Translate(packet, NatSide.Inside)), Capacity,
            settle: () =>
            {
                store.Flush();
                return Task.CompletedTask;
            },
            tableSize: () => Task.FromResult((long)store.CountOf(NatProtocol.Tcp)));
        MemoryAtCapacity.AssertFlat(measured);
        Assert.True(new FileInfo(Path.Combine(_file.Folder, "nat-log.db")).Length <= 2 * 256 * 8192, "the log is checkpointed");
    }
}
