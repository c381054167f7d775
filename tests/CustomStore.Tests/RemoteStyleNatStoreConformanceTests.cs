using NatFramework;
using NatFramework.StoreConformance;

namespace CustomStore.Tests;

/// <summary>The asynchronous custom-store sample passes the same suite through its generated asynchronous translator.</summary>
[StoreTraits(HasCapacity = false)]
public sealed class RemoteStyleNatStoreConformanceTests : NatStoreConformanceTests
{
    // Bounded only by memory: it has no capacity to give way at.

    protected override INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider)
        => new RemoteStyleNatTranslator(new RemoteStyleNatStore(), options, timeProvider);
}
