namespace NatFramework.Packets;

/// <summary>
/// Reads the datagram an ICMP error carries (RFC 792: its IP header plus at least the first 8 bytes),
/// which identifies the flow the error is about.
/// </summary>
public static class IcmpErrorView
{
    /// <summary>
    /// Reads the flow key of the embedded datagram as it was originally sent (source = the host the
    /// error is addressed to). Returns <see cref="PacketError.TruncatedIcmpErrorPayload"/> when the
    /// embedded header is malformed or shorter than its IHL plus 8 bytes. <paramref name="translatable"/>
    /// is false when the embedded datagram is not TCP, UDP or an ICMP query (e.g. an error about an error,
    /// which RFC 1122 §3.2.2 forbids), or is a non-first fragment whose ports are absent.
    /// </summary>
    /// <param name="packet">The ICMP error datagram.</param>
    /// <param name="embedded">The flow of the datagram the error quotes.</param>
    /// <param name="translatable">True when the quoted datagram is one a translator can match (a TCP, UDP or ICMP query flow).</param>
    /// <returns><see cref="PacketError.None"/> when the quoted datagram could be read, else what is wrong with it.</returns>
    public static PacketError TryRead(in Ipv4Packet packet, out FlowKey embedded, out bool translatable)
    {
        embedded = default;
        translatable = false;
        var body = packet.Payload.Length >= IcmpHeader.Length ? packet.Payload[IcmpHeader.Length..] : default;
        if (body.Length < Ipv4Packet.MinHeaderLength + 8 || body[0] >> 4 != 4) return PacketError.TruncatedIcmpErrorPayload;
        int ihl = (body[0] & 0x0F) * 4;
        if (ihl < Ipv4Packet.MinHeaderLength || body.Length < ihl + 8) return PacketError.TruncatedIcmpErrorPayload;
        // RFC 5508 REQ-3a: the carried header must be intact to say which flow the error is about; its transport
        // checksum is not checked (REQ-3c: the copy is usually cut short).
        if (!Ipv4Packet.VerifyHeaderChecksum(body[..ihl])) return PacketError.BadEmbeddedHeaderChecksum;
        var source = Ipv4Address.Read(body[Ipv4Packet.SourceOffset..]);
        var destination = Ipv4Address.Read(body[Ipv4Packet.DestinationOffset..]);
        int fragmentOffset = (body[Ipv4Packet.FlagsOffset] << 8 | body[Ipv4Packet.FlagsOffset + 1]) & Ipv4Packet.FragmentOffsetMask;
        if (fragmentOffset != 0) return PacketError.None;
        var transport = body[ihl..];
        ushort sourcePort = (ushort)(transport[0] << 8 | transport[1]);
        ushort destinationPort = (ushort)(transport[2] << 8 | transport[3]);
        switch ((IpProtocol)body[Ipv4Packet.ProtocolOffset])
        {
            case IpProtocol.Tcp:
                embedded = FlowKey.Tcp(source, sourcePort, destination, destinationPort);
                translatable = true;
                break;
            case IpProtocol.Udp:
                embedded = FlowKey.Udp(source, sourcePort, destination, destinationPort);
                translatable = true;
                break;
            case IpProtocol.Icmp when IcmpTypes.IsQuery((IcmpType)transport[0]):
                embedded = FlowKey.Icmp(source, destination, (ushort)(transport[4] << 8 | transport[5]));
                translatable = true;
                break;
        }
        return PacketError.None;
    }
}
