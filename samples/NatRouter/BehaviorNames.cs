using NatFramework;

namespace NatRouter;

/// <summary>The command line's short names of RFC 4787's behaviours: ei, ad, apd.</summary>
public static class BehaviorNames
{
    /// <summary>Reads a mapping behaviour: <c>ei</c> or <c>apd</c>.</summary>
    public static bool TryParseMapping(string text, out NatMappingBehavior behavior)
    {
        (bool known, behavior) = text switch
        {
            "ei" => (true, NatMappingBehavior.EndpointIndependent),
            "apd" => (true, NatMappingBehavior.AddressAndPortDependent),
            _ => (false, default),
        };
        return known;
    }

    /// <summary>Reads a filtering behaviour: <c>ei</c>, <c>ad</c> or <c>apd</c>.</summary>
    public static bool TryParseFiltering(string text, out NatFilteringBehavior behavior)
    {
        (bool known, behavior) = text switch
        {
            "ei" => (true, NatFilteringBehavior.EndpointIndependent),
            "ad" => (true, NatFilteringBehavior.AddressDependent),
            "apd" => (true, NatFilteringBehavior.AddressAndPortDependent),
            _ => (false, default),
        };
        return known;
    }

    /// <summary>The short name of a mapping behaviour.</summary>
    public static string ToCommandLine(this NatMappingBehavior behavior)
        => behavior == NatMappingBehavior.EndpointIndependent ? "ei" : "apd";

    /// <summary>The short name of a filtering behaviour.</summary>
    public static string ToCommandLine(this NatFilteringBehavior behavior) => behavior switch
    {
        NatFilteringBehavior.EndpointIndependent => "ei",
        NatFilteringBehavior.AddressDependent => "ad",
        _ => "apd",
    };
}
