namespace NatFramework;

/// <summary>
/// The public ports (ICMP: identifiers) a new connection may take: those with <c>port % Modulus == Remainder</c>. A store
/// that spreads one table over several shards by port says which class a connection's shard owns
/// (<see cref="INatPortClasses"/>), so that a reply, which names only the public port, is looked for in one place.
/// </summary>
/// <param name="Remainder">The remainder every port of the class leaves, below <paramref name="Modulus"/>.</param>
/// <param name="Modulus">How many classes the port space is cut into; 1 for every port.</param>
public readonly record struct PortClass(int Remainder, int Modulus)
{
    /// <summary>Every port: the class of a store that does not partition its ports.</summary>
    public static PortClass Any => new(0, 1);

    /// <summary>True when the class is every port.</summary>
    public bool IsAny => Modulus <= 1;

    /// <summary>True when <paramref name="port"/> belongs to the class.</summary>
    /// <param name="port">A port or ICMP identifier.</param>
    /// <returns>True when the port may be used.</returns>
    public bool Contains(ushort port) => IsAny || port % Modulus == Remainder;

    /// <summary>How many ports of <c>[start, end]</c> belong to the class, and the first of them.</summary>
    /// <param name="start">The range's first port.</param>
    /// <param name="end">The range's last port.</param>
    /// <param name="first">The first port of the class in the range (meaningless when none).</param>
    /// <returns>The number of the class's ports in the range.</returns>
    public int CountIn(int start, int end, out int first)
    {
        if (IsAny)
        {
            first = start;
            return Math.Max(0, end - start + 1);
        }
        first = start + ((Remainder - start % Modulus) + Modulus) % Modulus;
        return first > end ? 0 : (end - first) / Modulus + 1;
    }
}
