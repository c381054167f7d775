using System.Buffers.Binary;

namespace NatFramework.Packets;

/// <summary>A view over a TCP header (RFC 9293 §3.1).</summary>
/// <remarks>
/// <code>
///  0                   1                   2                   3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// |                        Sequence Number                        |
/// |                    Acknowledgment Number                      |
/// |  Data |       |C|E|U|A|P|R|S|F|                               |
/// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
/// |           Checksum            |         Urgent Pointer        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </remarks>
public readonly ref struct TcpHeader
{
    /// <summary>The minimum header length.</summary>
    public const int MinLength = 20;
    /// <summary>Offset of the Source Port field.</summary>
    public const int SourcePortOffset = 0;
    /// <summary>Offset of the Destination Port field.</summary>
    public const int DestinationPortOffset = 2;
    /// <summary>Offset of the Data Offset nibble.</summary>
    public const int DataOffsetOffset = 12;
    /// <summary>Offset of the flags byte.</summary>
    public const int FlagsOffset = 13;
    /// <summary>Offset of the Checksum field.</summary>
    public const int ChecksumOffset = 16;

    private readonly Span<byte> _segment;

    /// <summary>Wraps a segment (header and data); it must be at least 20 bytes.</summary>
    /// <param name="segment">The TCP header and payload.</param>
    public TcpHeader(Span<byte> segment) => _segment = segment;

    /// <summary>The source port.</summary>
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_segment);

    /// <summary>The destination port.</summary>
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_segment[DestinationPortOffset..]);

    /// <summary>The header length in bytes.</summary>
    public int DataOffset => (_segment[DataOffsetOffset] >> 4) * 4;

    /// <summary>The flags.</summary>
    public TcpFlags Flags => (TcpFlags)_segment[FlagsOffset];

    /// <summary>The checksum field.</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_segment[ChecksumOffset..]);
}

/// <summary>TCP control bits (RFC 9293, RFC 3168).</summary>
[Flags]
public enum TcpFlags : byte
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>FIN.</summary>
    Fin = 0x01,
    /// <summary>SYN.</summary>
    Syn = 0x02,
    /// <summary>RST.</summary>
    Rst = 0x04,
    /// <summary>PSH.</summary>
    Psh = 0x08,
    /// <summary>ACK.</summary>
    Ack = 0x10,
    /// <summary>URG.</summary>
    Urg = 0x20,
    /// <summary>ECE.</summary>
    Ece = 0x40,
    /// <summary>CWR.</summary>
    Cwr = 0x80,
}
