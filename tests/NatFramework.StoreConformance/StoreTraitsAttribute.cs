using System.Reflection;

namespace NatFramework.StoreConformance;

/// <summary>
/// Declares, on a store's conformance test class, what the store legitimately does differently. Read when tests are
/// discovered, so tests the store cannot take are left out (not run and not reported as skipped).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class StoreTraitsAttribute : Attribute
{
    /// <inheritdoc cref="StoreTraits.ExpiryFollowsTranslatorClock"/>
    public bool ExpiryFollowsTranslatorClock { get; set; } = true;

    /// <inheritdoc cref="StoreTraits.HasCapacity"/>
    public bool HasCapacity { get; set; } = true;

    /// <inheritdoc cref="StoreTraits.HasStatistics"/>
    public bool HasStatistics { get; set; }

    /// <inheritdoc cref="StoreTraits.LargeTableConnections"/>
    public int LargeTableConnections { get; set; } = 1_000_000;

    /// <inheritdoc cref="StoreTraits.TakesAnyPublicPort"/>
    public bool TakesAnyPublicPort { get; set; } = true;

    /// <summary>The traits declared on <paramref name="testClass"/> (or a base class); the defaults when none.</summary>
    /// <param name="testClass">The test class.</param>
    /// <returns>The traits declared on the class, or the defaults.</returns>
    public static StoreTraits Of(Type testClass) => testClass.GetCustomAttribute<StoreTraitsAttribute>(inherit: true) is { } declared
        ? new StoreTraits
        {
            ExpiryFollowsTranslatorClock = declared.ExpiryFollowsTranslatorClock,
            HasCapacity = declared.HasCapacity,
            HasStatistics = declared.HasStatistics,
            LargeTableConnections = declared.LargeTableConnections,
            TakesAnyPublicPort = declared.TakesAnyPublicPort,
        }
        : StoreTraits.Default;
}
