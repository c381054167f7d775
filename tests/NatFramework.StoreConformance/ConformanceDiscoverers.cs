using Xunit.Abstractions;
using Xunit.Sdk;

namespace NatFramework.StoreConformance;

/// <summary>Discovers a <see cref="ConformanceFactAttribute"/> test for the store test classes whose traits meet its requirement.</summary>
public sealed class ConformanceFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    private readonly FactDiscoverer _facts = new(diagnosticMessageSink);

    /// <inheritdoc/>
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
        => ConformanceRequirement.MetBy(testMethod, factAttribute) ? _facts.Discover(discoveryOptions, testMethod, factAttribute) : [];
}

/// <summary>Discovers a <see cref="ConformanceTheoryAttribute"/> test for the store test classes whose traits meet its requirement.</summary>
public sealed class ConformanceTheoryDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    private readonly TheoryDiscoverer _theories = new(diagnosticMessageSink);

    /// <inheritdoc/>
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
        => ConformanceRequirement.MetBy(testMethod, factAttribute) ? _theories.Discover(discoveryOptions, testMethod, factAttribute) : [];
}

internal static class ConformanceRequirement
{
    /// <summary>True when the concrete test class's declared traits meet the test's requirement.</summary>
    public static bool MetBy(ITestMethod testMethod, IAttributeInfo attribute)
    {
        var requirement = attribute.GetNamedArgument<StoreRequirement>(nameof(ConformanceFactAttribute.Requires));
        var testClass = testMethod.TestClass.Class.ToRuntimeType();
        return testClass is null || StoreTraitsAttribute.Of(testClass).Meets(requirement);
    }
}
