using NatFramework.StoreConformance;

namespace NatFramework.Stores.Lru.Tests;

/// <summary>The LRU store passes the conformance suite through its generated translator.</summary>
[StoreTraits(HasStatistics = true)]
public sealed class LruStoreConformanceTests : NatStoreConformanceTests
{
    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
        => new LruNatTranslator(new LruNatStore(LruStoreOptions.From(options)), options, timeProvider);
}
