using System.Buffers.Binary;
using CsCheck;
using NatFramework.Packets;

namespace NatFramework.Tests.Packets;

public sealed class FlowRewriterTests
{
    private static readonly Ipv4Address Inside = Ipv4Address.Parse("10.77.0.2");
    private static readonly Ipv4Address Outside = Ipv4Address.Parse("198.51.100.2");
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private static void Rewrite(byte[] packet, FlowKey to, bool decrementTtl = true)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(packet, out var ip));
        FlowRewriter.Rewrite(ip, to, decrementTtl);
    }

    [Fact]
    public void Tcp_rewrite_matches_a_freshly_built_packet_byte_for_byte()
    {
        var packet = Ipv4PacketBuilder.Tcp(Inside, 40000, Outside, 80, "GET /"u8, TcpFlags.Ack | TcpFlags.Psh, ttl: 64, identification: 7, dontFragment: true);

        Rewrite(packet, FlowKey.Tcp(Public, 50000, Outside, 80));

        Assert.Equal(Ipv4PacketBuilder.Tcp(Public, 50000, Outside, 80, "GET /"u8, TcpFlags.Ack | TcpFlags.Psh, ttl: 63, identification: 7, dontFragment: true), packet);
    }

    [Fact]
    public void Udp_and_icmp_rewrites_match_freshly_built_packets()
    {
        var udp = Ipv4PacketBuilder.Udp(Inside, 40000, Outside, 53, "q"u8);
        var ping = Ipv4PacketBuilder.EchoRequest(Inside, Outside, 5, 9, "abc"u8);

        Rewrite(udp, FlowKey.Udp(Public, 1111, Outside, 53));
        Rewrite(ping, FlowKey.Icmp(Public, Outside, 81));

        Assert.Equal(Ipv4PacketBuilder.Udp(Public, 1111, Outside, 53, "q"u8, ttl: 63), udp);
        Assert.Equal(Ipv4PacketBuilder.EchoRequest(Public, Outside, 81, 9, "abc"u8, ttl: 63), ping);
    }

    [Fact]
    public void Udp_checksum_zero_means_none_and_stays_zero()
    {
        var udp = Ipv4PacketBuilder.Udp(Inside, 40000, Outside, 53, "q"u8, computeChecksum: false);

        Rewrite(udp, FlowKey.Udp(Public, 1111, Outside, 53));

        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(udp.AsSpan(20 + 6)));
    }

    [Fact]
    public void Udp_checksum_that_becomes_zero_is_sent_as_ffff()
    {
        // Search for a destination port that makes the rewritten checksum compute to 0, then check it is written as 0xFFFF (RFC 768).
        for (int port = 1; port < 65536; port++)
        {
            var expected = Ipv4PacketBuilder.Udp(Public, 1111, Outside, (ushort)port, "q"u8);
            if (BinaryPrimitives.ReadUInt16BigEndian(expected.AsSpan(26)) != 0xFFFF) continue;
            var udp = Ipv4PacketBuilder.Udp(Inside, 40000, Outside, (ushort)port, "q"u8);
            Rewrite(udp, FlowKey.Udp(Public, 1111, Outside, (ushort)port));
            Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(udp.AsSpan(26)));
            return;
        }
        Assert.Fail("no port gives a zero checksum");
    }

    [Fact]
    public void After_any_sequence_of_rewrites_checksums_equal_a_full_recomputation()
    {
        var address = Gen.UInt.Select(v => new Ipv4Address(v));
        var step = Gen.Select(address, address, Gen.UShort, Gen.UShort);
        Gen.Select(Gen.Int[0, 2], Gen.Byte.Array[0, 40], step.Array[1, 6]).Sample((kind, payload, steps) =>
        {
            var packet = kind switch
            {
                0 => Ipv4PacketBuilder.Tcp(Inside, 1, Outside, 2, payload, ttl: 255),
                1 => Ipv4PacketBuilder.Udp(Inside, 1, Outside, 2, payload, ttl: 255),
                _ => Ipv4PacketBuilder.EchoRequest(Inside, Outside, 1, 2, payload, ttl: 255),
            };
            var protocol = kind switch { 0 => NatProtocol.Tcp, 1 => NatProtocol.Udp, _ => NatProtocol.Icmp };
            FlowKey last = default;
            foreach (var (source, destination, sourcePort, destinationPort) in steps)
            {
                last = protocol == NatProtocol.Icmp ? FlowKey.Icmp(source, destination, sourcePort) : new FlowKey(protocol, source, sourcePort, destination, destinationPort);
                Rewrite(packet, last);
            }
            byte ttl = (byte)(255 - steps.Length);
            var expected = kind switch
            {
                0 => Ipv4PacketBuilder.Tcp(last.Source, last.SourcePort, last.Destination, last.DestinationPort, payload, ttl: ttl),
                1 => Ipv4PacketBuilder.Udp(last.Source, last.SourcePort, last.Destination, last.DestinationPort, payload, ttl: ttl),
                _ => Ipv4PacketBuilder.EchoRequest(last.Source, last.Destination, last.Identifier, 2, payload, ttl: ttl),
            };
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(packet));
        }, iter: 20_000);
    }
}
