using NatFramework;
using NatFramework.StoreConformance;

namespace CustomStore.Tests;

/// <summary>The custom-store sample passes the conformance suite through its generated synchronous translator.</summary>
[StoreTraits(HasCapacity = false)]
public sealed class DictionaryNatStoreConformanceTests : NatStoreConformanceTests
{
    // Bounded only by memory: it has no capacity to give way at.

    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
        => new DictionaryNatTranslator(new DictionaryNatStore(), options, timeProvider);
}
