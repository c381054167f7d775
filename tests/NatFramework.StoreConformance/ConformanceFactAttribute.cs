using Xunit.Sdk;

namespace NatFramework.StoreConformance;

/// <summary>A conformance fact that only stores meeting <see cref="Requires"/> get (see <see cref="StoreTraitsAttribute"/>).</summary>
[XunitTestCaseDiscoverer("NatFramework.StoreConformance.ConformanceFactDiscoverer", "NatFramework.StoreConformance")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ConformanceFactAttribute : FactAttribute
{
    /// <summary>What the test needs of the store.</summary>
    public StoreRequirement Requires { get; set; }
}

/// <summary>A conformance theory that only stores meeting <see cref="Requires"/> get (see <see cref="StoreTraitsAttribute"/>).</summary>
[XunitTestCaseDiscoverer("NatFramework.StoreConformance.ConformanceTheoryDiscoverer", "NatFramework.StoreConformance")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ConformanceTheoryAttribute : TheoryAttribute
{
    /// <summary>What the test needs of the store.</summary>
    public StoreRequirement Requires { get; set; }
}
