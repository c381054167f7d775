namespace NatFramework.StoreConformance;

/// <summary>What a store may legitimately do differently; conformance tests skip (with the reason) what a store cannot do.</summary>
public sealed record StoreTraits
{
    /// <summary>The defaults: a store that does everything.</summary>
    public static StoreTraits Default { get; } = new();

    /// <summary>
    /// Expiry follows the translator's <see cref="TimeProvider"/>. False for stores that expire with their own clock
    /// (Redis key expiry): the fake-clock expiry tests are skipped, and the store tests expiry its own way.
    /// </summary>
    public bool ExpiryFollowsTranslatorClock { get; init; } = true;

    /// <summary>The store holds at most the options' per-protocol capacities (false for stores bounded only by memory).</summary>
    public bool HasCapacity { get; init; } = true;

    /// <summary>How many connections the large-table removal test creates (mirage-nat's users hit recursion limits at 1M).</summary>
    public int LargeTableConnections { get; init; } = 1_000_000;
}
