using System.Buffers.Binary;
using CsCheck;
using NatFramework.Packets;

namespace NatFramework.Tests.Packets;

public sealed class Ipv4PacketTests
{
    private static readonly Ipv4Address Inside = Ipv4Address.Parse("10.77.0.2");
    private static readonly Ipv4Address Outside = Ipv4Address.Parse("198.51.100.2");

    private static byte[] Udp() => Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "hello"u8);

    private static PacketError Parse(byte[] bytes) => Ipv4Packet.TryParse(bytes, out _);

    private static byte[] Fixed(byte[] packet, Action<byte[]> change)
    {
        change(packet);
        Ipv4Packet.RecomputeHeaderChecksum(packet.AsSpan(0, (packet[0] & 0x0F) * 4 is var h && h >= 20 && h <= packet.Length ? h : 20));
        return packet;
    }

    [Fact]
    public void Valid_packet_parses_with_every_field()
    {
        var bytes = Ipv4PacketBuilder.Udp(Inside, 4000, Outside, 53, "hello"u8, ttl: 33, identification: 0x1234, dontFragment: true);

        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(bytes, out var ip));
        Assert.Equal(Inside, ip.Source);
        Assert.Equal(Outside, ip.Destination);
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.Equal(33, ip.Ttl);
        Assert.Equal(0x1234, ip.Identification);
        Assert.True(ip.DontFragment);
        Assert.False(ip.IsFragment);
        Assert.Equal(4000, ip.Udp.SourcePort);
        Assert.Equal(53, ip.Udp.DestinationPort);
        Assert.Equal(bytes.Length, ip.TotalLength);
    }

    [Fact]
    public void Each_malformation_has_its_own_reason()
    {
        Assert.Equal(PacketError.TooShort, Parse(new byte[19]));
        Assert.Equal(PacketError.NotIpv4, Parse(Fixed(Udp(), p => p[0] = 0x65)));
        Assert.Equal(PacketError.HeaderLengthTooSmall, Parse(Fixed(Udp(), p => p[0] = 0x44)));
        Assert.Equal(PacketError.HeaderLengthBeyondBuffer, Parse(Fixed(Udp()[..24], p => p[0] = 0x47)));
        Assert.Equal(PacketError.TotalLengthBeyondBuffer, Parse(Fixed(Udp(), p => BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length + 1)))));
        Assert.Equal(PacketError.TotalLengthBelowHeader, Parse(Fixed(Udp(), p => BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 19))));
        Assert.Equal(PacketError.BadHeaderChecksum, Parse(Udp() is var bad ? Flip(bad, 10) : bad));
        Assert.Equal(PacketError.TruncatedUdpHeader, Parse(Truncate(Udp(), 20 + 7)));
        Assert.Equal(PacketError.TruncatedTcpHeader, Parse(Truncate(Ipv4PacketBuilder.Tcp(Inside, 1, Outside, 2, []), 20 + 19)));
        Assert.Equal(PacketError.TruncatedTcpHeader, Parse(Fixed(Ipv4PacketBuilder.Tcp(Inside, 1, Outside, 2, []), p => p[20 + 12] = 0x40)));
        Assert.Equal(PacketError.TruncatedIcmpHeader, Parse(Truncate(Ipv4PacketBuilder.EchoRequest(Inside, Outside, 1, 1), 20 + 7)));
    }

    private static byte[] Flip(byte[] packet, int offset)
    {
        packet[offset] ^= 0xFF;
        return packet;
    }

    /// <summary>Cuts a packet to <paramref name="length"/> bytes and makes its header say so.</summary>
    private static byte[] Truncate(byte[] packet, int length) => Fixed(packet[..length], p => BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)length));

    [Fact]
    public void Link_padding_after_total_length_is_ignored()
    {
        var padded = Udp().Concat(new byte[12]).ToArray();

        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(padded, out var ip));
        Assert.Equal(padded.Length - 12, ip.TotalLength);
    }

    [Fact]
    public void Options_are_supported()
    {
        byte[] options = [0x94, 0x04, 0x00, 0x00]; // router alert (RFC 2113)
        var bytes = Ipv4PacketBuilder.Ipv4(Inside, Outside, 17, Ipv4PacketBuilder.Udp(Inside, 1, Outside, 2, [])[20..], options: options);

        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(bytes, out var ip));
        Assert.Equal(24, ip.HeaderLength);
        Assert.Equal(options, ip.Options.ToArray());
        Assert.Equal(2, ip.Udp.DestinationPort);
    }

    [Fact]
    public void Unknown_protocol_is_not_an_error()
    {
        var gre = Ipv4PacketBuilder.Ipv4(Inside, Outside, 47, new byte[3]);

        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(gre, out var ip));
        Assert.Equal(47, ip.ProtocolNumber);
    }

    [Fact]
    public void Parsing_never_throws_on_arbitrary_bytes()
    {
        Gen.Byte.Array[0, 120].Sample(bytes =>
        {
            Ipv4Packet.TryParse(bytes, out _);
            NatFramework.Translation.PacketPlanner.Plan(bytes);
        }, iter: 100_000);
    }

    [Fact]
    public void Parsing_never_throws_on_mutated_valid_packets()
    {
        var seeds = new[]
        {
            Udp(),
            Ipv4PacketBuilder.Tcp(Inside, 1, Outside, 2, "data"u8),
            Ipv4PacketBuilder.EchoRequest(Inside, Outside, 1, 2, "ping"u8),
            Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, Outside, Inside, Udp()),
        };
        Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Int[0, 100], Gen.Byte, Gen.Bool).Sample((which, at, value, fixChecksum) =>
        {
            var bytes = (byte[])seeds[which].Clone();
            bytes[at % bytes.Length] = value;
            if (fixChecksum && (bytes[0] & 0x0F) * 4 is var h && h >= 20 && h <= bytes.Length)
                Ipv4Packet.RecomputeHeaderChecksum(bytes.AsSpan(0, h));
            if (Ipv4Packet.TryParse(bytes, out var ip) == PacketError.None)
                _ = ip.Payload.Length;
            var plan = NatFramework.Translation.PacketPlanner.Plan(bytes);
            _ = plan.Kind;
        }, iter: 100_000);
    }
}
