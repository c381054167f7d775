namespace NatFramework.StoreConformance;

/// <summary>What a conformance test needs of a store beyond the contract; a store without it does not get the test.</summary>
[Flags]
public enum StoreRequirement
{
    /// <summary>Nothing beyond the contract.</summary>
    None = 0,
    /// <summary>Expiry follows the translator's clock (<see cref="StoreTraits.ExpiryFollowsTranslatorClock"/>): fake-clock tests.</summary>
    TranslatorClock = 1,
    /// <summary>The store is bounded by the options' capacities (<see cref="StoreTraits.HasCapacity"/>).</summary>
    Capacity = 2,

    /// <summary>The store reports statistics (<see cref="StoreTraits.HasStatistics"/>).</summary>
    Statistics = 4,

    /// <summary>
    /// A new connection may take any public port: the caller's fixed one, or the preserved source port
    /// (<see cref="StoreTraits.TakesAnyPublicPort"/>; a store that partitions its ports, <see cref="INatPortClasses"/>, accepts
    /// only its class's).
    /// </summary>
    AnyPublicPort = 8,
}
