using System.Buffers.Binary;

namespace NatFramework.Packets;

/// <summary>
/// Builds valid IPv4 datagrams with correct checksums (RFC 1071), for tests, samples and a router's own
/// ICMP messages. The <c>Write…</c> methods write into the caller's buffer and return the length; the
/// others return a new array.
/// </summary>
public static class Ipv4PacketBuilder
{
    /// <summary>Writes an IPv4 header followed by <paramref name="payload"/>; returns the datagram length.</summary>
    /// <param name="destination">The buffer to write into.</param>
    /// <param name="source">The source address.</param>
    /// <param name="destinationAddress">The destination address.</param>
    /// <param name="protocol">The IP protocol number.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="identification">The IPv4 identification field.</param>
    /// <param name="dontFragment">Sets the DF (don't fragment) bit.</param>
    /// <param name="options">The settings.</param>
    /// <param name="typeOfService">The type-of-service byte.</param>
    /// <returns>The datagram's length in bytes.</returns>
    /// <exception cref="ArgumentException">The options are not a multiple of 4 bytes or longer than 40, or the buffer is too small.</exception>
    public static int WriteIpv4(Span<byte> destination, Ipv4Address source, Ipv4Address destinationAddress, byte protocol,
        ReadOnlySpan<byte> payload, byte ttl = 64, ushort identification = 0, bool dontFragment = false,
        ReadOnlySpan<byte> options = default, byte typeOfService = 0)
    {
        if (options.Length % 4 != 0 || options.Length > 40)
            throw new ArgumentException("IPv4 options must be padded to a multiple of 4 bytes and at most 40 bytes.", nameof(options));
        int headerLength = Ipv4Packet.MinHeaderLength + options.Length;
        int total = headerLength + payload.Length;
        if (total > Ipv4Packet.MaxLength) throw new ArgumentException($"A datagram of {total} bytes exceeds 65535.", nameof(payload));
        if (destination.Length < total) throw new ArgumentException($"The buffer holds {destination.Length} bytes; {total} are needed.", nameof(destination));
        var header = destination[..headerLength];
        header[0] = (byte)(0x40 | headerLength / 4);
        header[1] = typeOfService;
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.TotalLengthOffset..], (ushort)total);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.IdentificationOffset..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.FlagsOffset..], dontFragment ? Ipv4Packet.DontFragmentFlag : (ushort)0);
        header[Ipv4Packet.TtlOffset] = ttl;
        header[Ipv4Packet.ProtocolOffset] = protocol;
        source.Write(header[Ipv4Packet.SourceOffset..]);
        destinationAddress.Write(header[Ipv4Packet.DestinationOffset..]);
        options.CopyTo(header[Ipv4Packet.MinHeaderLength..]);
        payload.CopyTo(destination[headerLength..]);
        Ipv4Packet.RecomputeHeaderChecksum(header);
        return total;
    }

    /// <summary>A UDP datagram; with <paramref name="computeChecksum"/> false the checksum is 0 ("none", RFC 768).</summary>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="identification">The IPv4 identification field.</param>
    /// <param name="dontFragment">Sets the DF (don't fragment) bit.</param>
    /// <param name="computeChecksum">False for a UDP checksum of 0 ("none").</param>
    /// <returns>The datagram.</returns>
    public static byte[] Udp(Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort,
        ReadOnlySpan<byte> payload, byte ttl = 64, ushort identification = 0, bool dontFragment = false, bool computeChecksum = true)
    {
        var udp = new byte[UdpHeader.Length + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(UdpHeader.LengthOffset), (ushort)udp.Length);
        payload.CopyTo(udp.AsSpan(UdpHeader.Length));
        if (computeChecksum)
        {
            ushort checksum = InternetChecksum.Compute(udp, InternetChecksum.PseudoHeaderSum(source, destination, (byte)IpProtocol.Udp, udp.Length));
            BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(UdpHeader.ChecksumOffset), checksum == 0 ? (ushort)0xFFFF : checksum);
        }
        return Ipv4(source, destination, (byte)IpProtocol.Udp, udp, ttl, identification, dontFragment);
    }

    /// <summary>A TCP segment with a 20-byte header (plus <paramref name="tcpOptions"/>, padded by the caller to 4 bytes).</summary>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="flags">The TCP flags.</param>
    /// <param name="sequence">The sequence number (ICMP queries: the sequence field).</param>
    /// <param name="window">The TCP window.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="identification">The IPv4 identification field.</param>
    /// <param name="dontFragment">Sets the DF (don't fragment) bit.</param>
    /// <param name="tcpOptions">TCP options, already padded to 4 bytes.</param>
    /// <param name="acknowledgment">The acknowledgement number.</param>
    /// <returns>The datagram.</returns>
    public static byte[] Tcp(Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort,
        ReadOnlySpan<byte> payload, TcpFlags flags = TcpFlags.Syn, uint sequence = 0x432AF310, uint acknowledgment = 0,
        ushort window = 536, byte ttl = 64, ushort identification = 0, bool dontFragment = false, ReadOnlySpan<byte> tcpOptions = default)
    {
        int headerLength = TcpHeader.MinLength + tcpOptions.Length;
        var tcp = new byte[headerLength + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), acknowledgment);
        tcp[TcpHeader.DataOffsetOffset] = (byte)(headerLength / 4 << 4);
        tcp[TcpHeader.FlagsOffset] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), window);
        tcpOptions.CopyTo(tcp.AsSpan(TcpHeader.MinLength));
        payload.CopyTo(tcp.AsSpan(headerLength));
        ushort checksum = InternetChecksum.Compute(tcp, InternetChecksum.PseudoHeaderSum(source, destination, (byte)IpProtocol.Tcp, tcp.Length));
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(TcpHeader.ChecksumOffset), checksum);
        return Ipv4(source, destination, (byte)IpProtocol.Tcp, tcp, ttl, identification, dontFragment);
    }

    /// <summary>An ICMP query (echo, timestamp or information request or reply) with identifier and sequence number.</summary>
    /// <param name="type">The ICMP type.</param>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="identifier">The ICMP query identifier.</param>
    /// <param name="sequence">The sequence number (ICMP queries: the sequence field).</param>
    /// <param name="data">The bytes.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="identification">The IPv4 identification field.</param>
    /// <param name="dontFragment">Sets the DF (don't fragment) bit.</param>
    /// <returns>The datagram.</returns>
    public static byte[] IcmpQuery(IcmpType type, Ipv4Address source, Ipv4Address destination, ushort identifier, ushort sequence,
        ReadOnlySpan<byte> data, byte ttl = 64, ushort identification = 0, bool dontFragment = false)
    {
        var icmp = new byte[IcmpHeader.Length + data.Length];
        icmp[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(IcmpHeader.IdentifierOffset), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(IcmpHeader.SequenceOffset), sequence);
        data.CopyTo(icmp.AsSpan(IcmpHeader.Length));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(IcmpHeader.ChecksumOffset), InternetChecksum.Compute(icmp));
        return Ipv4(source, destination, (byte)IpProtocol.Icmp, icmp, ttl, identification, dontFragment);
    }

    /// <summary>An ICMP echo request (ping).</summary>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="identifier">The ICMP query identifier.</param>
    /// <param name="sequence">The sequence number (ICMP queries: the sequence field).</param>
    /// <param name="data">The bytes.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="dontFragment">Sets the DF (don't fragment) bit.</param>
    /// <returns>The datagram.</returns>
    public static byte[] EchoRequest(Ipv4Address source, Ipv4Address destination, ushort identifier, ushort sequence,
        ReadOnlySpan<byte> data = default, byte ttl = 64, bool dontFragment = false)
        => IcmpQuery(IcmpType.EchoRequest, source, destination, identifier, sequence, data, ttl, 0, dontFragment);

    /// <summary>An ICMP echo reply.</summary>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="identifier">The ICMP query identifier.</param>
    /// <param name="sequence">The sequence number (ICMP queries: the sequence field).</param>
    /// <param name="data">The bytes.</param>
    /// <param name="ttl">The time to live.</param>
    /// <returns>The datagram.</returns>
    public static byte[] EchoReply(Ipv4Address source, Ipv4Address destination, ushort identifier, ushort sequence,
        ReadOnlySpan<byte> data = default, byte ttl = 64)
        => IcmpQuery(IcmpType.EchoReply, source, destination, identifier, sequence, data, ttl);

    /// <summary>
    /// An ICMP error about <paramref name="offending"/>: its header plus the first <paramref name="embeddedDataBytes"/>
    /// bytes of its payload (8 by RFC 792; RFC 1812 §4.3.2.3 allows more, up to 576 bytes in all).
    /// <paramref name="restOfHeader"/> fills bytes 4–7 (e.g. the next-hop MTU of a 3/4 error, RFC 1191).
    /// </summary>
    /// <param name="type">The ICMP type.</param>
    /// <param name="code">The ICMP code.</param>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="offending">The datagram the error is about.</param>
    /// <param name="embeddedDataBytes">How many bytes of the offending datagram's payload to quote (8 by RFC 792).</param>
    /// <param name="restOfHeader">Bytes 4-7 of the ICMP header (e.g. the next-hop MTU).</param>
    /// <param name="ttl">The time to live.</param>
    /// <returns>The datagram.</returns>
    public static byte[] IcmpError(IcmpType type, byte code, Ipv4Address source, Ipv4Address destination,
        ReadOnlySpan<byte> offending, int embeddedDataBytes = 8, uint restOfHeader = 0, byte ttl = 64)
    {
        var buffer = new byte[Ipv4Packet.MaxLength];
        int length = WriteIcmpError(buffer, type, code, source, destination, offending, embeddedDataBytes, restOfHeader, ttl);
        return buffer.AsSpan(0, length).ToArray();
    }

    /// <summary>Writes an ICMP error (see <see cref="IcmpError"/>) into the caller's buffer; returns its length.</summary>
    /// <param name="destination">The buffer to write into.</param>
    /// <param name="type">The ICMP type.</param>
    /// <param name="code">The ICMP code.</param>
    /// <param name="source">The source address.</param>
    /// <param name="destinationAddress">The destination address.</param>
    /// <param name="offending">The datagram the error is about.</param>
    /// <param name="embeddedDataBytes">How many bytes of the offending datagram's payload to quote (8 by RFC 792).</param>
    /// <param name="restOfHeader">Bytes 4-7 of the ICMP header (e.g. the next-hop MTU).</param>
    /// <param name="ttl">The time to live.</param>
    /// <returns>The datagram's length in bytes.</returns>
    public static int WriteIcmpError(Span<byte> destination, IcmpType type, byte code, Ipv4Address source, Ipv4Address destinationAddress,
        ReadOnlySpan<byte> offending, int embeddedDataBytes = 8, uint restOfHeader = 0, byte ttl = 64)
    {
        int offendingHeader = offending.Length >= 1 ? (offending[0] & 0x0F) * 4 : 0;
        int embedded = Math.Min(offending.Length, offendingHeader + embeddedDataBytes);
        int icmpLength = IcmpHeader.Length + embedded;
        var icmp = destination.Slice(Ipv4Packet.MinHeaderLength, icmpLength);
        icmp.Clear();
        icmp[0] = (byte)type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], restOfHeader);
        offending[..embedded].CopyTo(icmp[IcmpHeader.Length..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[IcmpHeader.ChecksumOffset..], InternetChecksum.Compute(icmp));
        var header = destination[..Ipv4Packet.MinHeaderLength];
        header.Clear();
        header[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.TotalLengthOffset..], (ushort)(Ipv4Packet.MinHeaderLength + icmpLength));
        header[Ipv4Packet.TtlOffset] = ttl;
        header[Ipv4Packet.ProtocolOffset] = (byte)IpProtocol.Icmp;
        source.Write(header[Ipv4Packet.SourceOffset..]);
        destinationAddress.Write(header[Ipv4Packet.DestinationOffset..]);
        Ipv4Packet.RecomputeHeaderChecksum(header);
        return Ipv4Packet.MinHeaderLength + icmpLength;
    }

    /// <summary>An IPv4 datagram around an arbitrary payload.</summary>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="protocol">The IP protocol number.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="identification">The IPv4 identification field.</param>
    /// <param name="dontFragment">Sets the DF (don't fragment) bit.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The datagram.</returns>
    public static byte[] Ipv4(Ipv4Address source, Ipv4Address destination, byte protocol, ReadOnlySpan<byte> payload,
        byte ttl = 64, ushort identification = 0, bool dontFragment = false, ReadOnlySpan<byte> options = default)
    {
        var datagram = new byte[Ipv4Packet.MinHeaderLength + options.Length + payload.Length];
        WriteIpv4(datagram, source, destination, protocol, payload, ttl, identification, dontFragment, options);
        return datagram;
    }
}
