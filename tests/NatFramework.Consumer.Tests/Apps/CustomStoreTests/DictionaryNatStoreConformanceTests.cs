// The conformance suite from its package, run against a custom store: the repository's samples/CustomStore store and
// its translator, copied here as a user's own store would be.
using CustomStore;
using NatFramework;
using NatFramework.StoreConformance;

[StoreTraits(HasCapacity = false, LargeTableConnections = 20_000)]
public sealed class DictionaryNatStoreConformanceTests : NatStoreConformanceTests
{
    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
        => new DictionaryNatTranslator(new DictionaryNatStore(), options, timeProvider);
}
