using NatFramework.Packets;

namespace NatFramework.StoreConformance;

/// <summary>Packets of mirage-nat's test scenarios and helpers to read them back.</summary>
public static class PacketFactory
{
    /// <summary>Parses a dotted quad.</summary>
    /// <param name="text">The text to read.</param>
    /// <returns>The address.</returns>
    public static Ipv4Address A(string text) => Ipv4Address.Parse(text);

    /// <summary>The payload mirage-nat's tests carry.</summary>
    public static readonly byte[] CatPhoto = "adorable_cat_photo.jpg"u8.ToArray();

    /// <summary>A TCP (SYN) or UDP packet, as mirage-nat's <c>full_packet</c> builds it.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <param name="ttl">The time to live.</param>
    /// <param name="payload">The payload.</param>
    /// <returns>The datagram.</returns>
    public static byte[] Transport(NatProtocol protocol, string source, ushort sourcePort, string destination, ushort destinationPort, byte ttl, byte[]? payload = null)
        => protocol == NatProtocol.Tcp
            ? Ipv4PacketBuilder.Tcp(A(source), sourcePort, A(destination), destinationPort, payload ?? CatPhoto, ttl: ttl)
            : Ipv4PacketBuilder.Udp(A(source), sourcePort, A(destination), destinationPort, payload ?? CatPhoto, ttl: ttl);

    /// <summary>Reads a packet's flow key.</summary>
    /// <param name="packet">The datagram.</param>
    /// <returns>The packet's flow key.</returns>
    public static FlowKey KeyOf(byte[] packet)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(packet, out var ip));
        Assert.True(FlowKey.TryRead(ip, out var key));
        return key;
    }

    /// <summary>Asserts that the IPv4 header and (for TCP/UDP with a checksum) the transport checksum verify.</summary>
    /// <param name="packet">The datagram.</param>
    public static void AssertChecksumsValid(byte[] packet)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(packet, out var ip));
        var pseudo = InternetChecksum.PseudoHeaderSum(ip.Source, ip.Destination, ip.ProtocolNumber, ip.Payload.Length);
        switch (ip.Protocol)
        {
            case IpProtocol.Tcp:
                Assert.True(InternetChecksum.Verify(ip.Payload, pseudo), "TCP checksum");
                break;
            case IpProtocol.Udp when ip.Udp.Checksum != 0:
                Assert.True(InternetChecksum.Verify(ip.Payload, pseudo), "UDP checksum");
                break;
            case IpProtocol.Icmp:
                Assert.True(InternetChecksum.Verify(ip.Payload), "ICMP checksum");
                break;
        }
    }
}
