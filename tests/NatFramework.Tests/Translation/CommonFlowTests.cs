using System.Buffers.Binary;
using CsCheck;
using NatFramework.Packets;
using NatFramework.Translation;

namespace NatFramework.Tests.Translation;

/// <summary>
/// The translator's short path (<see cref="TranslatorCore.TryReadCommonFlow"/> and <see cref="TranslatorCore.RewriteCommonFlow"/>)
/// must accept exactly the packets the full parser would translate the same way, and rewrite them to the same bytes.
/// </summary>
public sealed class CommonFlowTests
{
    private static readonly Ipv4Address Inside = Ipv4Address.Parse("10.77.0.2");
    private static readonly Ipv4Address Outside = Ipv4Address.Parse("198.51.100.2");

    private static readonly Gen<byte[]> CommonPacket =
        Gen.Select(Gen.Bool, Gen.UInt, Gen.UShort, Gen.UInt, Gen.UShort, Gen.Byte[2, 255], Gen.Bool, Gen.Byte.Array[0, 64])
            .Select((tcp, source, sourcePort, destination, destinationPort, ttl, dontFragment, payload) => tcp
                ? Ipv4PacketBuilder.Tcp(new(source), sourcePort, new(destination), destinationPort, payload, TcpFlags.Ack, ttl: ttl, dontFragment: dontFragment)
                : Ipv4PacketBuilder.Udp(new(source), sourcePort, new(destination), destinationPort, payload, ttl: ttl, dontFragment: dontFragment));

    [Fact]
    public void Accepts_every_whole_optionless_tcp_and_udp_datagram_with_the_key_the_parser_reads()
    {
        CommonPacket.Sample(packet =>
        {
            Assert.True(CommonFlow.TryRead(packet, out var key));
            Assert.Equal(PacketError.None, Ipv4Packet.TryParse(packet, out var ip));
            Assert.True(FlowKey.TryRead(ip, out var expected));
            Assert.Equal(expected, key);
        });
    }

    [Fact]
    public void Rewrites_to_the_same_bytes_as_the_general_rewriter()
    {
        var to = Gen.Select(Gen.UInt, Gen.UShort, Gen.UInt, Gen.UShort);
        Gen.Select(CommonPacket, to, Gen.Bool).Sample((packet, target, reply) =>
        {
            var general = packet.ToArray();
            Assert.Equal(PacketError.None, Ipv4Packet.TryParse(general, out var ip));
            var key = new FlowKey((NatProtocol)ip.ProtocolNumber, new(target.Item1), target.Item2, new(target.Item3), target.Item4);
            FlowRewriter.Rewrite(ip, key, decrementTtl: true);

            Assert.True(CommonFlow.TryRead(packet, out _));
            var direction = reply ? FlowDirection.Reply : FlowDirection.Outbound;
            var result = CommonFlow.Rewrite(packet, new FlowRewrite(key, direction));

            Assert.Equal(NatTranslateResult.Translated(direction), result);
            Assert.Equal(general, packet);
        });
    }

    public static TheoryData<string, byte[]> Uncommon()
    {
        var udp = Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "q"u8);
        var tcp = Ipv4PacketBuilder.Tcp(Inside, 4000, Outside, 80, "GET"u8, TcpFlags.Ack);
        var data = new TheoryData<string, byte[]>
        {
            { "ip options", Ipv4PacketBuilder.Ipv4(Inside, Outside, 17, udp[20..], options: [1, 1, 1, 0]) },
            { "ttl 1", Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "q"u8, ttl: 1) },
            { "ttl 0", Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "q"u8, ttl: 0) },
            { "icmp", Ipv4PacketBuilder.EchoRequest(Inside, Outside, 1, 1, "p"u8) },
            { "other protocol", Ipv4PacketBuilder.Ipv4(Inside, Outside, 47, new byte[24]) },
            { "bad header checksum", With(udp, p => p[10] ^= 0x01, fixChecksum: false) },
            { "more fragments", With(udp, p => p[6] |= 0x20) },
            { "fragment offset", With(udp, p => p[7] = 1) },
            { "ipv6 version", With(udp, p => p[0] = 0x65) },
            { "total length beyond buffer", With(udp, p => BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length + 1))) },
            { "udp header cut", With(udp, p => BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 27)) },
            { "tcp header cut", With(tcp, p => BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 39)) },
            { "tcp data offset below 5", With(tcp, p => p[32] = 0x40) },
            { "tcp data offset beyond datagram", With(tcp, p => p[32] = 0xF0) },
            { "too short", udp[..27] },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Uncommon))]
    public void Leaves_everything_else_to_the_full_plan(string what, byte[] packet)
    {
        Assert.False(CommonFlow.TryRead(packet, out var key), what);
        Assert.Equal(default, key);
    }

    [Fact]
    public void Packets_with_ip_options_or_ttl_1_are_still_planned_as_flows()
    {
        var udp = Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "q"u8);
        var withOptions = Ipv4PacketBuilder.Ipv4(Inside, Outside, 17, udp[20..], options: [1, 1, 1, 0]);
        var ttlOne = Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "q"u8, ttl: 1);

        var optionsPlan = PacketPlanner.Plan(withOptions);
        var ttlPlan = PacketPlanner.Plan(ttlOne);

        Assert.Equal((PacketPlanKind.Flow, 24, FlowKey.Udp(Inside, 4000, Outside, 53)), (optionsPlan.Kind, optionsPlan.HeaderLength, optionsPlan.LookupKey));
        Assert.Equal((PacketPlanKind.Flow, 20), (ttlPlan.Kind, ttlPlan.HeaderLength));
        Assert.Equal(NatTranslateResult.TtlExceeded, PacketPlanner.Apply(ttlOne, ttlPlan, new FlowRewrite(FlowKey.Udp(Outside, 53, Inside, 4000), FlowDirection.Reply)));
    }

    [Fact]
    public void Rewriting_a_packet_the_short_path_would_not_take_throws_before_writing()
    {
        var shortPacket = Ipv4PacketBuilder.Tcp(Inside, 4000, Outside, 80, [], TcpFlags.Ack)[..30];

        Assert.Throws<ArgumentException>(() => CommonFlow.Rewrite(shortPacket, new FlowRewrite(FlowKey.Tcp(Outside, 1, Inside, 2), FlowDirection.Reply)));
        var udp = Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "q"u8);
        var withOptions = Ipv4PacketBuilder.Ipv4(Inside, Outside, 17, udp[20..], options: [1, 1, 1, 0]);
        var before = withOptions.ToArray();
        Assert.Throws<ArgumentException>(() => CommonFlow.Rewrite(withOptions, new FlowRewrite(FlowKey.Udp(Outside, 1, Inside, 2), FlowDirection.Reply)));
        Assert.Equal(before, withOptions);
    }

    private static byte[] With(byte[] packet, Action<byte[]> change, bool fixChecksum = true)
    {
        var copy = packet.ToArray();
        change(copy);
        if (fixChecksum) Ipv4Packet.RecomputeHeaderChecksum(copy.AsSpan(0, (copy[0] & 0x0F) * 4));
        return copy;
    }
}
