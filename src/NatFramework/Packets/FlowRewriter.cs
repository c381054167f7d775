using System.Buffers.Binary;

namespace NatFramework.Packets;

/// <summary>
/// Rewrites datagrams in place with incremental checksum updates (RFC 1624): never a full recompute,
/// so a packet whose checksum was wrong stays wrong and the receiver still sees the damage.
/// </summary>
public static class FlowRewriter
{
    /// <summary>
    /// Rewrites a whole TCP, UDP or ICMP-query datagram to the addresses and ports (identifier) of
    /// <paramref name="to"/>, updating the header checksum and the transport checksum (pseudo-header
    /// included). With <paramref name="decrementTtl"/> the TTL drops by one; the caller checks TTL first.
    /// DF and every other field are left as they are.
    /// </summary>
    public static void Rewrite(in Ipv4Packet packet, in FlowKey to, bool decrementTtl)
    {
        var bytes = packet.Bytes;
        uint addressDelta = 0;
        InternetChecksum.Write32(bytes, Ipv4Packet.SourceOffset, to.Source.Value, ref addressDelta);
        InternetChecksum.Write32(bytes, Ipv4Packet.DestinationOffset, to.Destination.Value, ref addressDelta);
        uint headerDelta = addressDelta;
        if (decrementTtl)
        {
            // TTL is the high byte of the TTL/protocol word: one less TTL is 0x0100 less in that word.
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(bytes[Ipv4Packet.TtlOffset..]);
            bytes[Ipv4Packet.TtlOffset]--;
            headerDelta += InternetChecksum.Delta(oldWord, (ushort)(oldWord - 0x0100));
        }
        UpdateChecksumAt(bytes, Ipv4Packet.ChecksumOffset, headerDelta);

        var transport = packet.Payload;
        switch (packet.Protocol)
        {
            case IpProtocol.Tcp:
            {
                uint delta = addressDelta;
                InternetChecksum.Write16(transport, 0, to.SourcePort, ref delta);
                InternetChecksum.Write16(transport, TcpHeader.DestinationPortOffset, to.DestinationPort, ref delta);
                UpdateChecksumAt(transport, TcpHeader.ChecksumOffset, delta);
                break;
            }
            case IpProtocol.Udp:
            {
                uint delta = addressDelta;
                InternetChecksum.Write16(transport, 0, to.SourcePort, ref delta);
                InternetChecksum.Write16(transport, UdpHeader.DestinationPortOffset, to.DestinationPort, ref delta);
                UpdateUdpChecksumAt(transport, UdpHeader.ChecksumOffset, delta);
                break;
            }
            case IpProtocol.Icmp:
            {
                // ICMP has no pseudo-header: only the identifier enters its checksum.
                uint delta = 0;
                InternetChecksum.Write16(transport, IcmpHeader.IdentifierOffset, to.Identifier, ref delta);
                UpdateChecksumAt(transport, IcmpHeader.ChecksumOffset, delta);
                break;
            }
        }
    }

    /// <summary>
    /// Rewrites an ICMP error (RFC 792) whose embedded datagram belongs to a translated flow, as RFC 5508
    /// REQ-4 and RFC 5382/4787 require: the embedded header's addresses and ports (or identifier) become
    /// <paramref name="embedded"/>, the embedded IP checksum and the embedded transport checksum are
    /// updated incrementally (even though the truncated copy cannot be verified), the ICMP checksum is
    /// updated for every changed word, and the outer header gets the new addresses and one less TTL.
    /// The embedded header's TTL and other fields are kept. The caller has validated the embedded datagram
    /// with <see cref="IcmpErrorView.TryRead"/>.
    /// </summary>
    public static void RewriteIcmpError(in Ipv4Packet packet, in FlowKey embedded, Ipv4Address outerSource,
        Ipv4Address outerDestination, bool decrementTtl)
    {
        var message = packet.Payload;
        var inner = message[IcmpHeader.Length..];
        int innerHeaderLength = (inner[0] & 0x0F) * 4;
        uint icmpDelta = 0;

        uint innerAddressDelta = 0;
        InternetChecksum.Write32(inner, Ipv4Packet.SourceOffset, embedded.Source.Value, ref innerAddressDelta);
        InternetChecksum.Write32(inner, Ipv4Packet.DestinationOffset, embedded.Destination.Value, ref innerAddressDelta);
        icmpDelta += innerAddressDelta;
        ushort innerHeaderChecksum = BinaryPrimitives.ReadUInt16BigEndian(inner[Ipv4Packet.ChecksumOffset..]);
        InternetChecksum.Write16(inner, Ipv4Packet.ChecksumOffset, InternetChecksum.Apply(innerHeaderChecksum, innerAddressDelta), ref icmpDelta);

        var innerTransport = inner[innerHeaderLength..];
        switch ((IpProtocol)inner[Ipv4Packet.ProtocolOffset])
        {
            case IpProtocol.Tcp:
            {
                uint delta = innerAddressDelta;
                WritePortsTracked(innerTransport, embedded, ref delta, ref icmpDelta);
                // Only the first 8 bytes are guaranteed; the checksum at offset 16 is updated when present.
                if (innerTransport.Length >= TcpHeader.ChecksumOffset + 2)
                {
                    ushort old = BinaryPrimitives.ReadUInt16BigEndian(innerTransport[TcpHeader.ChecksumOffset..]);
                    InternetChecksum.Write16(innerTransport, TcpHeader.ChecksumOffset, InternetChecksum.Apply(old, delta), ref icmpDelta);
                }
                break;
            }
            case IpProtocol.Udp:
            {
                uint delta = innerAddressDelta;
                WritePortsTracked(innerTransport, embedded, ref delta, ref icmpDelta);
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(innerTransport[UdpHeader.ChecksumOffset..]);
                if (old != 0)
                {
                    ushort updated = InternetChecksum.Apply(old, delta);
                    InternetChecksum.Write16(innerTransport, UdpHeader.ChecksumOffset, updated == 0 ? (ushort)0xFFFF : updated, ref icmpDelta);
                }
                break;
            }
            case IpProtocol.Icmp:
            {
                uint delta = 0;
                InternetChecksum.Write16(innerTransport, IcmpHeader.IdentifierOffset, embedded.Identifier, ref delta);
                icmpDelta += delta;
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(innerTransport[IcmpHeader.ChecksumOffset..]);
                InternetChecksum.Write16(innerTransport, IcmpHeader.ChecksumOffset, InternetChecksum.Apply(old, delta), ref icmpDelta);
                break;
            }
        }
        UpdateChecksumAt(message, IcmpHeader.ChecksumOffset, icmpDelta);

        var bytes = packet.Bytes;
        uint headerDelta = 0;
        InternetChecksum.Write32(bytes, Ipv4Packet.SourceOffset, outerSource.Value, ref headerDelta);
        InternetChecksum.Write32(bytes, Ipv4Packet.DestinationOffset, outerDestination.Value, ref headerDelta);
        if (decrementTtl)
        {
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(bytes[Ipv4Packet.TtlOffset..]);
            bytes[Ipv4Packet.TtlOffset]--;
            headerDelta += InternetChecksum.Delta(oldWord, (ushort)(oldWord - 0x0100));
        }
        UpdateChecksumAt(bytes, Ipv4Packet.ChecksumOffset, headerDelta);
    }

    private static void WritePortsTracked(Span<byte> transport, in FlowKey embedded, ref uint transportDelta, ref uint icmpDelta)
    {
        uint portDelta = 0;
        InternetChecksum.Write16(transport, 0, embedded.SourcePort, ref portDelta);
        InternetChecksum.Write16(transport, 2, embedded.DestinationPort, ref portDelta);
        transportDelta += portDelta;
        icmpDelta += portDelta;
    }

    private static void UpdateChecksumAt(Span<byte> region, int offset, uint delta)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(region[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(region[offset..], InternetChecksum.Apply(old, delta));
    }

    private static void UpdateUdpChecksumAt(Span<byte> region, int offset, uint delta)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(region[offset..]);
        if (old == 0) return; // RFC 768: 0 means the sender computed none; it stays none.
        ushort updated = InternetChecksum.Apply(old, delta);
        BinaryPrimitives.WriteUInt16BigEndian(region[offset..], updated == 0 ? (ushort)0xFFFF : updated);
    }
}
