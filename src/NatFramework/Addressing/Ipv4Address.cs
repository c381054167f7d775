using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace NatFramework;

/// <summary>
/// An IPv4 address as a 32-bit value in network (big-endian) numeric order: <c>10.0.0.1</c> is
/// <c>0x0A000001</c>. Four bytes, no allocation, ordered and hashable, so it can sit inside table keys.
/// </summary>
[System.ComponentModel.TypeConverter(typeof(Ipv4AddressConverter))]
public readonly struct Ipv4Address : IEquatable<Ipv4Address>, IComparable<Ipv4Address>, ISpanFormattable
{
    /// <summary>The numeric value, most significant byte first (<c>10.0.0.1</c> is <c>0x0A000001</c>).</summary>
    public readonly uint Value;

    /// <summary>Creates an address from its numeric value (<c>0x0A000001</c> is <c>10.0.0.1</c>).</summary>
    /// <param name="value">The address as a 32-bit number (network order as a number: 10.0.0.1 is 0x0A000001).</param>
    public Ipv4Address(uint value) => Value = value;

    /// <summary>Creates an address from its four dotted-quad parts.</summary>
    /// <param name="a">The first byte (a in a.b.c.d).</param>
    /// <param name="b">The second byte.</param>
    /// <param name="c">The third byte.</param>
    /// <param name="d">The fourth byte.</param>
    public Ipv4Address(byte a, byte b, byte c, byte d) => Value = (uint)(a << 24 | b << 16 | c << 8 | d);

    /// <summary><c>0.0.0.0</c>.</summary>
    public static Ipv4Address Any => default;

    /// <summary><c>255.255.255.255</c>, the limited broadcast address.</summary>
    public static Ipv4Address Broadcast => new(0xFFFFFFFF);

    /// <summary>The address's scope per RFC 6890.</summary>
    public AddressScope Scope => AddressScopes.Classify(this);

    /// <summary>
    /// True when the address can be one end of a translated flow: not unspecified, loopback,
    /// link-local, multicast, broadcast or reserved (RFC 6890).
    /// </summary>
    public bool IsUnicastRoutable => AddressScopes.IsUnicastRoutable(Scope);

    /// <summary>Reads an address from four bytes in network order.</summary>
    /// <param name="source">Four bytes in network order.</param>
    /// <returns>The address in the first four bytes (network order).</returns>
    public static Ipv4Address Read(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt32BigEndian(source));

    /// <summary>Writes the address as four bytes in network order.</summary>
    /// <param name="destination">Where the four bytes are written, in network order.</param>
    public void Write(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, Value);

    /// <summary>Converts to <see cref="IPAddress"/> (allocates; not for the packet path).</summary>
    /// <returns>The same address as an <see cref="System.Net.IPAddress"/>.</returns>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[4];
        Write(bytes);
        return new IPAddress(bytes);
    }

    /// <summary>Converts from an IPv4 (or IPv4-mapped IPv6) <see cref="IPAddress"/>.</summary>
    /// <param name="address">An IPv4 address (an IPv4-mapped IPv6 address is accepted).</param>
    /// <returns>The same address.</returns>
    /// <exception cref="ArgumentException">The address is IPv6 and not IPv4-mapped.</exception>
    public static Ipv4Address FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"'{address}' is not an IPv4 address; NatFramework translates IPv4 only.", nameof(address));
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return Read(bytes);
    }

    /// <summary>Converts from <see cref="IPAddress"/>.</summary>
    /// <param name="address">The parsed address, or default.</param>
    public static explicit operator Ipv4Address(IPAddress address) => FromIPAddress(address);

    /// <summary>Converts to <see cref="IPAddress"/>.</summary>
    /// <param name="address">The parsed address, or default.</param>
    public static explicit operator IPAddress(Ipv4Address address) => address.ToIPAddress();

    /// <summary>Parses a dotted quad such as <c>192.0.2.1</c>.</summary>
    /// <param name="text">The text to read.</param>
    /// <returns>The address.</returns>
    /// <exception cref="FormatException">The text is not a dotted-quad IPv4 address.</exception>
    public static Ipv4Address Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var address)
            ? address
            : throw new FormatException($"'{text}' is not an IPv4 address in dotted-quad form (for example 192.0.2.1).");
    }

    /// <summary>Parses a dotted quad of exactly four decimal parts, each 0–255, no leading zeros beyond one digit.</summary>
    /// <param name="text">The text to read.</param>
    /// <param name="address">The parsed address, or default.</param>
    /// <returns>True when the text is a dotted-quad IPv4 address.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv4Address address)
    {
        address = default;
        uint value = 0;
        int parts = 0, i = 0;
        while (parts < 4)
        {
            int start = i, part = 0;
            while (i < text.Length && i - start < 4 && text[i] is >= '0' and <= '9')
            {
                part = part * 10 + (text[i] - '0');
                i++;
            }
            int digits = i - start;
            // Leading zeros are refused: some parsers read them as octal, so the meaning is ambiguous.
            if (digits == 0 || digits > 3 || part > 255 || (digits > 1 && text[start] == '0')) return false;
            value = value << 8 | (uint)part;
            parts++;
            if (parts < 4)
            {
                if (i >= text.Length || text[i] != '.') return false;
                i++;
            }
        }
        if (i != text.Length) return false;
        address = new Ipv4Address(value);
        return true;
    }

    /// <summary>Parses a dotted quad.</summary>
    /// <param name="text">The text to read.</param>
    /// <param name="address">The parsed address, or default.</param>
    /// <returns>True when the text is a dotted-quad IPv4 address.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, out Ipv4Address address)
    {
        if (text is null) { address = default; return false; }
        return TryParse(text.AsSpan(), out address);
    }

    /// <inheritdoc/>
    public bool Equals(Ipv4Address other) => Value == other.Value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Ipv4Address other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (int)Value;

    /// <inheritdoc/>
    public int CompareTo(Ipv4Address other) => Value.CompareTo(other.Value);

    /// <summary>Equality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator ==(Ipv4Address left, Ipv4Address right) => left.Value == right.Value;

    /// <summary>Inequality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator !=(Ipv4Address left, Ipv4Address right) => left.Value != right.Value;

    /// <summary>Orders by numeric value.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator <(Ipv4Address left, Ipv4Address right) => left.Value < right.Value;

    /// <summary>Orders by numeric value.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator >(Ipv4Address left, Ipv4Address right) => left.Value > right.Value;

    /// <summary>Orders by numeric value.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator <=(Ipv4Address left, Ipv4Address right) => left.Value <= right.Value;

    /// <summary>Orders by numeric value.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator >=(Ipv4Address left, Ipv4Address right) => left.Value >= right.Value;

    /// <summary>The dotted-quad form.</summary>
    /// <returns>The dotted-quad text, e.g. <c>198.51.100.1</c>.</returns>
    public override string ToString() => string.Create(null, stackalloc char[15], $"{Value >> 24}.{(Value >> 16) & 0xFF}.{(Value >> 8) & 0xFF}.{Value & 0xFF}");

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
        => destination.TryWrite(null, $"{Value >> 24}.{(Value >> 16) & 0xFF}.{(Value >> 8) & 0xFF}.{Value & 0xFF}", out charsWritten);
}
