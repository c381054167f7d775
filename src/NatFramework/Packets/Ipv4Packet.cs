using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace NatFramework.Packets;

/// <summary>
/// A validated view over one IPv4 datagram in the caller's buffer (RFC 791). It owns nothing and copies
/// nothing; setters write through to the buffer. Obtain one with <see cref="TryParse"/>.
/// </summary>
/// <remarks>
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </remarks>
public readonly ref struct Ipv4Packet
{
    /// <summary>Offset of the Total Length field.</summary>
    public const int TotalLengthOffset = 2;
    /// <summary>Offset of the Identification field.</summary>
    public const int IdentificationOffset = 4;
    /// <summary>Offset of the Flags / Fragment Offset field.</summary>
    public const int FlagsOffset = 6;
    /// <summary>Offset of the Time to Live field.</summary>
    public const int TtlOffset = 8;
    /// <summary>Offset of the Protocol field.</summary>
    public const int ProtocolOffset = 9;
    /// <summary>Offset of the Header Checksum field.</summary>
    public const int ChecksumOffset = 10;
    /// <summary>Offset of the Source Address field.</summary>
    public const int SourceOffset = 12;
    /// <summary>Offset of the Destination Address field.</summary>
    public const int DestinationOffset = 16;
    /// <summary>The minimum header length, 20 bytes (IHL 5).</summary>
    public const int MinHeaderLength = 20;
    /// <summary>The largest datagram, 65535 bytes (Total Length is 16 bits).</summary>
    public const int MaxLength = 65535;
    /// <summary>The Don't Fragment bit within the flags/offset word.</summary>
    public const ushort DontFragmentFlag = 0x4000;
    /// <summary>The More Fragments bit within the flags/offset word.</summary>
    public const ushort MoreFragmentsFlag = 0x2000;
    /// <summary>The fragment offset bits (in 8-byte units) within the flags/offset word.</summary>
    public const ushort FragmentOffsetMask = 0x1FFF;

    private Ipv4Packet(Span<byte> bytes, int headerLength)
    {
        Bytes = bytes;
        HeaderLength = headerLength;
    }

    /// <summary>Wraps a datagram that was already validated by <see cref="TryParse"/>.</summary>
    internal static Ipv4Packet FromValidated(Span<byte> datagram, int headerLength) => new(datagram, headerLength);

    /// <summary>The datagram: exactly Total Length bytes (link padding after it is excluded).</summary>
    public Span<byte> Bytes { get; }

    /// <summary>The header length in bytes (IHL × 4), options included.</summary>
    public int HeaderLength { get; }

    /// <summary>The datagram length (the Total Length field).</summary>
    public int TotalLength => Bytes.Length;

    /// <summary>The header, options included.</summary>
    public Span<byte> Header => Bytes[..HeaderLength];

    /// <summary>The bytes after the header.</summary>
    public Span<byte> Payload => Bytes[HeaderLength..];

    /// <summary>The options (empty when IHL is 5).</summary>
    public Span<byte> Options => Bytes[MinHeaderLength..HeaderLength];

    /// <summary>The protocol number.</summary>
    public byte ProtocolNumber => Bytes[ProtocolOffset];

    /// <summary>The protocol as an <see cref="IpProtocol"/> (may be a value outside the enum).</summary>
    public IpProtocol Protocol => (IpProtocol)Bytes[ProtocolOffset];

    /// <summary>Time to Live.</summary>
    public byte Ttl => Bytes[TtlOffset];

    /// <summary>The Identification field.</summary>
    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(Bytes[IdentificationOffset..]);

    /// <summary>The raw flags and fragment offset word.</summary>
    public ushort FlagsAndOffset => BinaryPrimitives.ReadUInt16BigEndian(Bytes[FlagsOffset..]);

    /// <summary>The DF bit.</summary>
    public bool DontFragment => (FlagsAndOffset & DontFragmentFlag) != 0;

    /// <summary>The MF bit.</summary>
    public bool MoreFragments => (FlagsAndOffset & MoreFragmentsFlag) != 0;

    /// <summary>The fragment offset in bytes.</summary>
    public int FragmentOffset => (FlagsAndOffset & FragmentOffsetMask) * 8;

    /// <summary>True when this is a fragment (MF set or a non-zero offset) rather than a whole datagram.</summary>
    public bool IsFragment => (FlagsAndOffset & (MoreFragmentsFlag | FragmentOffsetMask)) != 0;

    /// <summary>The header checksum field.</summary>
    public ushort HeaderChecksum => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ChecksumOffset..]);

    /// <summary>The source address.</summary>
    public Ipv4Address Source => new(BinaryPrimitives.ReadUInt32BigEndian(Bytes[SourceOffset..]));

    /// <summary>The destination address.</summary>
    public Ipv4Address Destination => new(BinaryPrimitives.ReadUInt32BigEndian(Bytes[DestinationOffset..]));

    /// <summary>
    /// Validates the datagram at the start of <paramref name="buffer"/>: length, version, IHL, Total
    /// Length and header checksum (RFC 791, RFC 1071), then, for a whole (unfragmented) datagram, that
    /// the TCP, UDP or ICMP header is complete (and a UDP Length field fits the datagram). Bytes after Total Length (link padding) are ignored.
    /// An unknown protocol is not an error. Never throws.
    /// </summary>
    /// <param name="buffer">The bytes of the datagram.</param>
    /// <param name="packet">The parsed view, or default.</param>
    /// <returns><see cref="PacketError.None"/> when the datagram is well formed, else what is wrong with it.</returns>
    // Kept out of line: inlined into the translator it exhausts the JIT's inlining budget for the rest of the path.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static PacketError TryParse(Span<byte> buffer, out Ipv4Packet packet)
    {
        packet = default;
        if (buffer.Length < MinHeaderLength) return PacketError.TooShort;
        byte versionIhl = buffer[0];
        if (versionIhl >> 4 != 4) return PacketError.NotIpv4;
        int headerLength = (versionIhl & 0x0F) * 4;
        if (headerLength < MinHeaderLength) return PacketError.HeaderLengthTooSmall;
        if (headerLength > buffer.Length) return PacketError.HeaderLengthBeyondBuffer;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(buffer[TotalLengthOffset..]);
        if (totalLength > buffer.Length) return PacketError.TotalLengthBeyondBuffer;
        if (totalLength < headerLength) return PacketError.TotalLengthBelowHeader;
        if (!VerifyHeaderChecksum(buffer[..headerLength])) return PacketError.BadHeaderChecksum;
        var candidate = new Ipv4Packet(buffer[..totalLength], headerLength);
        if (!candidate.IsFragment)
        {
            var error = ValidateTransport(candidate.Protocol, candidate.Payload);
            if (error != PacketError.None) return error;
        }
        packet = candidate;
        return PacketError.None;
    }

    /// <summary>Checks that a whole datagram's transport header is complete.</summary>
    internal static PacketError ValidateTransport(IpProtocol protocol, ReadOnlySpan<byte> payload)
    {
        switch (protocol)
        {
            case IpProtocol.Tcp:
                if (payload.Length < TcpHeader.MinLength) return PacketError.TruncatedTcpHeader;
                int dataOffset = (payload[TcpHeader.DataOffsetOffset] >> 4) * 4;
                if (dataOffset < TcpHeader.MinLength || dataOffset > payload.Length) return PacketError.TruncatedTcpHeader;
                return PacketError.None;
            case IpProtocol.Udp:
                if (payload.Length < UdpHeader.Length) return PacketError.TruncatedUdpHeader;
                int udpLength = payload[UdpHeader.LengthOffset] << 8 | payload[UdpHeader.LengthOffset + 1];
                // RFC 768: the length covers header and data; more than the datagram holds, or less than the header, is malformed.
                return udpLength < UdpHeader.Length || udpLength > payload.Length ? PacketError.BadUdpLength : PacketError.None;
            case IpProtocol.Icmp:
                return payload.Length < IcmpHeader.Length ? PacketError.TruncatedIcmpHeader : PacketError.None;
            default:
                return PacketError.None;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool VerifyHeaderChecksum(ReadOnlySpan<byte> header)
    {
        if (header.Length == MinHeaderLength)
        {
            // The common case, unrolled: five 32-bit words summed into 64 bits, then folded.
            ulong sum = (ulong)BinaryPrimitives.ReadUInt32BigEndian(header)
                + BinaryPrimitives.ReadUInt32BigEndian(header[4..])
                + BinaryPrimitives.ReadUInt32BigEndian(header[8..])
                + BinaryPrimitives.ReadUInt32BigEndian(header[12..])
                + BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
            sum = (sum & 0xFFFFFFFF) + (sum >> 32);
            uint s = (uint)sum + (uint)(sum >> 32);
            return InternetChecksum.Fold((s & 0xFFFF) + (s >> 16)) == 0xFFFF;
        }
        return InternetChecksum.Verify(header);
    }

    /// <summary>The TCP header (only for a whole TCP datagram).</summary>
    public TcpHeader Tcp => new(Payload);

    /// <summary>The UDP header (only for a whole UDP datagram).</summary>
    public UdpHeader Udp => new(Payload);

    /// <summary>The ICMP header (only for a whole ICMP datagram).</summary>
    public IcmpHeader Icmp => new(Payload);

    /// <summary>Recomputes the header checksum from scratch (RFC 1071). Used by builders, not by rewriting.</summary>
    public void RecomputeHeaderChecksum() => RecomputeHeaderChecksum(Header);

    /// <summary>Recomputes the checksum of the IPv4 header in <paramref name="header"/>.</summary>
    /// <param name="header">The IPv4 header whose checksum is recomputed.</param>
    public static void RecomputeHeaderChecksum(Span<byte> header)
    {
        BinaryPrimitives.WriteUInt16BigEndian(header[ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(header[ChecksumOffset..], InternetChecksum.Compute(header));
    }
}
