namespace NatFramework.StoreConformance;

/// <summary>What a store may legitimately do differently; the suite leaves out the tests a store's traits exclude.</summary>
public sealed record StoreTraits
{
    /// <summary>The defaults: a store that does everything.</summary>
    public static StoreTraits Default { get; } = new();

    /// <summary>
    /// Expiry follows the translator's <see cref="TimeProvider"/>. False for stores that expire with their own clock
    /// (Redis key expiry): the fake-clock tests are left out, and the store tests expiry its own way.
    /// </summary>
    public bool ExpiryFollowsTranslatorClock { get; init; } = true;

    /// <summary>The store holds at most the options' per-protocol capacities (false for stores bounded only by memory).</summary>
    public bool HasCapacity { get; init; } = true;

    /// <summary>
    /// The store tells its table's size and its eviction and expiry counts (<see cref="INatStoreStatistics"/> or
    /// <see cref="IAsyncNatStoreStatistics"/>, an optional capability): the statistics tests check what it tells.
    /// </summary>
    public bool HasStatistics { get; init; }

    /// <summary>
    /// A new connection may take any public port (false for a store that partitions its ports by shard,
    /// <see cref="INatPortClasses"/>): the tests that fix a port, or expect a preserved source port, are left out.
    /// </summary>
    public bool TakesAnyPublicPort { get; init; } = true;

    /// <summary>How many connections the large-table removal test creates (mirage-nat's users hit recursion limits at 1M).</summary>
    public int LargeTableConnections { get; init; } = 1_000_000;

    /// <summary>True when a store with these traits can show what a test that needs <paramref name="requirement"/> checks.</summary>
    /// <param name="requirement">What the test needs.</param>
    /// <returns>True when the test applies to the store.</returns>
    public bool Meets(StoreRequirement requirement)
        => (!requirement.HasFlag(StoreRequirement.TranslatorClock) || ExpiryFollowsTranslatorClock)
           && (!requirement.HasFlag(StoreRequirement.Capacity) || HasCapacity)
           && (!requirement.HasFlag(StoreRequirement.Statistics) || HasStatistics)
           && (!requirement.HasFlag(StoreRequirement.AnyPublicPort) || TakesAnyPublicPort);
}
