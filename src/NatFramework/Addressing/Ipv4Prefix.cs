namespace NatFramework;

/// <summary>An IPv4 prefix (network and length), such as <c>10.0.0.0/8</c>.</summary>
[System.ComponentModel.TypeConverter(typeof(Ipv4PrefixConverter))]
public readonly struct Ipv4Prefix : IEquatable<Ipv4Prefix>
{
    /// <summary>Creates a prefix; host bits of <paramref name="network"/> must be zero.</summary>
    /// <param name="network">The network address.</param>
    /// <param name="length">The prefix length (0-32).</param>
    /// <exception cref="ArgumentOutOfRangeException">The length is not 0–32.</exception>
    /// <exception cref="ArgumentException">The network address has host bits set.</exception>
    public Ipv4Prefix(Ipv4Address network, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 32);
        if ((network.Value & ~MaskOf(length)) != 0)
            throw new ArgumentException($"{network}/{length} has host bits set; did you mean {new Ipv4Address(network.Value & MaskOf(length))}/{length}?", nameof(network));
        Network = network;
        Length = length;
    }

    /// <summary>The network address (host bits zero).</summary>
    public Ipv4Address Network { get; }

    /// <summary>The prefix length in bits, 0–32.</summary>
    public int Length { get; }

    /// <summary>The network mask as a number (<c>/8</c> is <c>0xFF000000</c>).</summary>
    public uint Mask => MaskOf(Length);

    /// <summary>True when <paramref name="address"/> lies inside the prefix.</summary>
    /// <param name="address">The address.</param>
    /// <returns>True when the address is in the prefix.</returns>
    public bool Contains(Ipv4Address address) => (address.Value & Mask) == Network.Value;

    private static uint MaskOf(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    /// <summary>Parses <c>a.b.c.d/n</c>; a bare address is a /32.</summary>
    /// <param name="text">The text to read.</param>
    /// <returns>The prefix.</returns>
    /// <exception cref="FormatException">The text is not a prefix.</exception>
    public static Ipv4Prefix Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var prefix)
            ? prefix
            : throw new FormatException($"'{text}' is not an IPv4 prefix such as 10.0.0.0/8 (host bits must be zero).");
    }

    /// <summary>Parses <c>a.b.c.d/n</c>; a bare address is a /32. Host bits must be zero.</summary>
    /// <param name="text">The text to read.</param>
    /// <param name="prefix">The parsed prefix, or default.</param>
    /// <returns>True when the text is a prefix in CIDR notation.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv4Prefix prefix)
    {
        prefix = default;
        int slash = text.IndexOf('/');
        int length = 32;
        var addressText = slash < 0 ? text : text[..slash];
        if (slash >= 0 && !(int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, null, out length) && length <= 32))
            return false;
        if (!Ipv4Address.TryParse(addressText, out var network)) return false;
        if ((network.Value & ~MaskOf(length)) != 0) return false;
        prefix = new Ipv4Prefix(network, length);
        return true;
    }

    /// <inheritdoc/>
    public bool Equals(Ipv4Prefix other) => Network == other.Network && Length == other.Length;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Ipv4Prefix other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Network, Length);

    /// <summary>Equality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator ==(Ipv4Prefix left, Ipv4Prefix right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator !=(Ipv4Prefix left, Ipv4Prefix right) => !left.Equals(right);

    /// <summary><c>a.b.c.d/n</c>.</summary>
    /// <returns>The prefix in CIDR notation, e.g. <c>10.77.0.0/24</c>.</returns>
    public override string ToString() => $"{Network}/{Length}";
}
