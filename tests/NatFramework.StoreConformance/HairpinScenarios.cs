using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8, RFC 5508 REQ-7): inside hosts reach each other through their public
// endpoints, each seeing the other's public endpoint.
public abstract partial class NatStoreConformanceTests
{
    /// <summary>Maps 10.77.0.3:5000 (by a packet to a server outside); returns its public port.</summary>
    private static async Task<ushort> MapPeerAsync(INatTranslator nat, NatProtocol protocol)
    {
        var packet = protocol == NatProtocol.Tcp
            ? Segment("10.77.0.3", 5000, "198.51.100.2", 3478, TcpFlags.Syn)
            : Transport(NatProtocol.Udp, "10.77.0.3", 5000, "198.51.100.2", 3478, 64);
        var (_, bytes) = await Translated(nat, packet);
        return SourcePortOf(bytes);
    }

    private static byte[] Packet(NatProtocol protocol, string source, ushort sourcePort, string destination, ushort destinationPort, TcpFlags flags = TcpFlags.Syn, byte ttl = 64)
        => protocol == NatProtocol.Tcp
            ? Segment(source, sourcePort, destination, destinationPort, flags, ttl)
            : Transport(NatProtocol.Udp, source, sourcePort, destination, destinationPort, ttl);

    [Theory]
    [InlineData(NatProtocol.Udp)]
    [InlineData(NatProtocol.Tcp)]
    public async Task An_inside_host_reaches_another_through_its_public_endpoint_and_sees_it_from_ours(NatProtocol protocol)
    {
        var nat = NewPolicyTranslator();
        ushort peer = await MapPeerAsync(nat, protocol);

        var (sent, delivered) = await Translated(nat, Packet(protocol, "10.77.0.2", 4000, "198.51.100.1", peer), NatSide.Inside);
        ushort mine = SourcePortOf(delivered);
        // The answer from the peer's endpoint to our public endpoint comes back as from the peer's public endpoint.
        var (answered, back) = await Translated(nat, Packet(protocol, "10.77.0.3", 5000, "198.51.100.1", mine, TcpFlags.Syn | TcpFlags.Ack), NatSide.Inside);

        Assert.True(sent.Created);
        Assert.Equal(Convert.ToHexString(Packet(protocol, "198.51.100.1", mine, "10.77.0.3", 5000, ttl: 63)), Convert.ToHexString(delivered));
        Assert.False(answered.Created);
        Assert.Equal(Convert.ToHexString(Packet(protocol, "198.51.100.1", peer, "10.77.0.2", 4000, TcpFlags.Syn | TcpFlags.Ack, 63)), Convert.ToHexString(back));
        // Our public endpoint is our mapping's: the same a server outside sees.
        var (_, outside) = await Translated(nat, Packet(protocol, "10.77.0.2", 4000, "198.51.100.2", 3478));
        Assert.Equal(mine, SourcePortOf(outside));
    }

    [Fact]
    public async Task An_inside_host_reaches_a_port_forward_through_the_public_address()
    {
        var nat = NewPolicyTranslator(); // forwards TCP 198.51.100.1:8080 to 10.77.0.5:80

        var (sent, delivered) = await Translated(nat, Segment("10.77.0.2", 4000, "198.51.100.1", 8080, TcpFlags.Syn), NatSide.Inside);
        ushort mine = SourcePortOf(delivered);
        var (_, back) = await Translated(nat, Segment("10.77.0.5", 80, "198.51.100.1", mine, TcpFlags.Syn | TcpFlags.Ack), NatSide.Inside);

        Assert.True(sent.Created);
        Assert.Equal(Convert.ToHexString(Segment("198.51.100.1", mine, "10.77.0.5", 80, TcpFlags.Syn, 63)), Convert.ToHexString(delivered));
        Assert.Equal(Convert.ToHexString(Segment("198.51.100.1", 8080, "10.77.0.2", 4000, TcpFlags.Syn | TcpFlags.Ack, 63)), Convert.ToHexString(back));
    }

    [Fact]
    public async Task An_icmp_error_about_a_hairpinned_datagram_reaches_its_sender_translated()
    {
        var nat = NewPolicyTranslator();
        ushort peer = await MapPeerAsync(nat, NatProtocol.Udp);
        var (_, delivered) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 4000, "198.51.100.1", peer, 64));
        ushort mine = SourcePortOf(delivered);

        // The peer's port is closed after all: its ICMP port unreachable quotes the datagram as it arrived.
        var error = Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, A("10.77.0.3"), A("198.51.100.1"), delivered);
        var (result, bytes) = await Translated(nat, error, NatSide.Inside);

        Assert.Equal(FlowDirection.Reply, result.Direction);
        var expectedQuote = Transport(NatProtocol.Udp, "10.77.0.2", 4000, "198.51.100.1", peer, 63); // the datagram as it left us
        var expected = Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, A("198.51.100.1"), A("10.77.0.2"), expectedQuote, ttl: 63);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(bytes));
    }

    [Fact]
    public async Task A_public_endpoint_nobody_holds_leads_nowhere()
    {
        var nat = NewPolicyTranslator();

        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 4000, "198.51.100.1", 33333, 64), UntranslatedReason.NoConnection, NatSide.Inside);
    }

    [Fact]
    public async Task Without_hairpinning_a_packet_to_the_public_address_is_translated_like_any_other()
    {
        var nat = NewPolicyTranslator(RouterPolicy with { Hairpinning = false });
        ushort peer = await MapPeerAsync(nat, NatProtocol.Udp);

        var (_, bytes) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 4000, "198.51.100.1", peer, 64));

        Assert.Equal(Convert.ToHexString(Transport(NatProtocol.Udp, "198.51.100.1", SourcePortOf(bytes), "198.51.100.1", peer, 63)), Convert.ToHexString(bytes));
    }
}
