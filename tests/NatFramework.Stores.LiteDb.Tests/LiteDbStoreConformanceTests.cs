using NatFramework.StoreConformance;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>The LiteDB store passes the conformance suite, each translator on a real file of its own.</summary>
[StoreTraits(HasStatistics = true, LargeTableConnections = 100_000)]
public sealed class LiteDbStoreConformanceTests : NatStoreConformanceTests
{
    private readonly List<(LiteDbNatStore Store, TableFile File)> _stores = new();

    // Every connection is also written to the file in the background; 100,000 keep the large-table test quick.

    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
    {
        var file = new TableFile();
        var store = new LiteDbNatStore(new LiteDbStoreOptions
        {
            Path = file.Path, TimeProvider = timeProvider, ExpireOnOpen = options.Timeouts,
            // The window's backpressure answers StoreUnavailable when the writer falls behind by more than it: right under
            // overload, and DurabilityWindowTests test it. The suite's bulk scenarios (100,000 inserts as fast as a core
            // goes) met the default 250 ms on a CI machine whose other test projects kept both cores busy, so it is wide here.
            DurabilityWindow = TimeSpan.FromSeconds(10),
            TcpCapacity = options.TcpCapacity, UdpCapacity = options.UdpCapacity, IcmpCapacity = options.IcmpCapacity,
        });
        _stores.Add((store, file));
        return new LiteDbNatTranslator(store, options, timeProvider);
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var (store, file) in _stores)
        {
            store.Dispose();
            file.Dispose();
        }
    }
}
