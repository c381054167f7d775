using NatFramework.Packets;

namespace NatFramework.StoreConformance;

/// <summary>Packets of mirage-nat's test scenarios and helpers to read them back.</summary>
public static class PacketFactory
{
    /// <summary>Parses a dotted quad.</summary>
    public static Ipv4Address A(string text) => Ipv4Address.Parse(text);

    /// <summary>The payload mirage-nat's tests carry.</summary>
    public static readonly byte[] CatPhoto = "adorable_cat_photo.jpg"u8.ToArray();

    /// <summary>A TCP (SYN) or UDP packet, as mirage-nat's <c>full_packet</c> builds it.</summary>
    public static byte[] Transport(NatProtocol protocol, string source, ushort sourcePort, string destination, ushort destinationPort, byte ttl, byte[]? payload = null)
        => protocol == NatProtocol.Tcp
            ? Ipv4PacketBuilder.Tcp(A(source), sourcePort, A(destination), destinationPort, payload ?? CatPhoto, ttl: ttl)
            : Ipv4PacketBuilder.Udp(A(source), sourcePort, A(destination), destinationPort, payload ?? CatPhoto, ttl: ttl);

    /// <summary>Reads a packet's flow key.</summary>
    public static FlowKey KeyOf(byte[] packet)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(packet, out var ip));
        Assert.True(FlowKey.TryRead(ip, out var key));
        return key;
    }

    /// <summary>Asserts that the IPv4 header and (for TCP/UDP with a checksum) the transport checksum verify.</summary>
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
