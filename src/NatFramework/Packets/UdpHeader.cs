using System.Buffers.Binary;

namespace NatFramework.Packets;

/// <summary>A view over a UDP header (RFC 768).</summary>
/// <remarks>
/// <code>
/// +--------+--------+--------+--------+
/// |   Source Port   | Destination Port|
/// +--------+--------+--------+--------+
/// |     Length      |    Checksum     |
/// +--------+--------+--------+--------+
/// </code>
/// A checksum of 0 means "not computed" and must stay 0; a computed 0 is sent as 0xFFFF.
/// </remarks>
public readonly ref struct UdpHeader
{
    /// <summary>The header length.</summary>
    public const int Length = 8;
    /// <summary>Offset of the Destination Port field.</summary>
    public const int DestinationPortOffset = 2;
    /// <summary>Offset of the Length field.</summary>
    public const int LengthOffset = 4;
    /// <summary>Offset of the Checksum field.</summary>
    public const int ChecksumOffset = 6;

    private readonly Span<byte> _datagram;

    /// <summary>Wraps a datagram (header and data); it must be at least 8 bytes.</summary>
    /// <param name="datagram">The UDP header and payload.</param>
    public UdpHeader(Span<byte> datagram) => _datagram = datagram;

    /// <summary>The source port.</summary>
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_datagram);

    /// <summary>The destination port.</summary>
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_datagram[DestinationPortOffset..]);

    /// <summary>The Length field.</summary>
    public ushort DatagramLength => BinaryPrimitives.ReadUInt16BigEndian(_datagram[LengthOffset..]);

    /// <summary>The checksum field (0: none).</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_datagram[ChecksumOffset..]);
}
