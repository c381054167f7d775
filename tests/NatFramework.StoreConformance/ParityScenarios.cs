using System.Buffers.Binary;
using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Where mirage-nat answers differently from a naive table: UDP datagrams whose length field lies, and re-adds that ask
// for another translation than the flow has.
public abstract partial class NatStoreConformanceTests
{
    private static byte[] WithUdpLength(byte[] packet, ushort length)
    {
        var copy = (byte[])packet.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(Ipv4Packet.MinHeaderLength + UdpHeader.LengthOffset), length);
        return copy;
    }

    [Theory]
    [InlineData(100)] // longer than the 30 bytes the datagram carries
    [InlineData(7)]   // shorter than the header itself
    [InlineData(0)]
    public async Task A_udp_datagram_whose_length_field_lies_is_dropped_on_a_mapped_flow(int length)
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);
        var lying = WithUdpLength(packet, (ushort)length);
        // The checksum is left as it was: the length alone must condemn it. With options (the full parser) as well.
        var withOptions = Ipv4PacketBuilder.Ipv4(A("10.77.0.2"), A("198.51.100.2"), (byte)IpProtocol.Udp,
            lying.AsSpan(Ipv4Packet.MinHeaderLength), options: [1, 1, 1, 0]);

        foreach (var bad in new[] { lying, withOptions })
        {
            var (result, bytes) = await TranslateCopy(nat, bad);
            Assert.Equal(NatTranslateStatus.Dropped, result.Status);
            Assert.Equal(PacketError.BadUdpLength, result.Error);
            Assert.Equal(bad, bytes);
        }
    }

    [Fact]
    public async Task A_udp_datagram_whose_length_field_lies_cannot_be_added()
    {
        var nat = NewTranslator();
        var lying = WithUdpLength(Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64), 100);

        var nat1 = await nat.AddNatAsync(lying, A("198.51.100.1"));
        var redirect = await nat.AddRedirectAsync(lying, A("198.51.100.1"), A("10.77.0.5"), 53);

        foreach (var added in new[] { nat1, redirect })
        {
            Assert.Equal(NatAddStatus.CannotNat, added.Status);
            Assert.Equal(CannotNatReason.Malformed, added.Reason);
            Assert.Equal(PacketError.BadUdpLength, added.Error);
        }
    }

    [Fact]
    public async Task A_shorter_udp_length_than_the_datagram_is_fine()
    {
        var nat = NewTranslator();
        // 8 header bytes and 8 of the 22 payload bytes: the rest is padding, as on a short Ethernet frame.
        var packet = WithUdpLength(Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64), 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(Ipv4Packet.MinHeaderLength + 6), 0); // no checksum

        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);
        Assert.True((await TranslateCopy(nat, packet)).Result.IsTranslated);
    }

    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Re_adding_a_flow_with_another_port_is_an_overlap_that_names_the_existing_connection()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        var first = await nat.AddNatAsync(packet, A("198.51.100.1"), PortAllocator.Fixed(50000));

        var otherPort = await nat.AddNatAsync(packet, A("198.51.100.1"), PortAllocator.Fixed(50001));
        var otherAddress = await nat.AddNatAsync(packet, A("198.51.100.9"), PortAllocator.Fixed(50000));
        var same = await nat.AddNatAsync(packet, A("198.51.100.1"), PortAllocator.Fixed(50000));

        Assert.Equal(NatAddStatus.Overlap, otherPort.Status);
        Assert.Equal(first.Connection.Translated, otherPort.Connection.Translated);
        Assert.Equal(NatAddStatus.Overlap, otherAddress.Status);
        Assert.Equal(first.Connection.Translated, otherAddress.Connection.Translated);
        Assert.Equal(NatAddStatus.Ok, same.Status);
        // The other port was not taken.
        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Udp, A("198.51.100.2"), A("198.51.100.1"), 53, 50001));
    }

    [Fact]
    public async Task Re_adding_a_redirect_with_another_target_is_an_overlap_that_names_the_existing_connection()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "198.51.100.7", 5000, "198.51.100.1", 53, 64);
        var first = await nat.AddRedirectAsync(packet, A("10.77.0.1"), A("10.77.0.5"), 53);

        var otherTarget = await nat.AddRedirectAsync(packet, A("10.77.0.1"), A("10.77.0.6"), 53);
        var otherTargetPort = await nat.AddRedirectAsync(packet, A("10.77.0.1"), A("10.77.0.5"), 54);
        var same = await nat.AddRedirectAsync(packet, A("10.77.0.1"), A("10.77.0.5"), 53);

        Assert.Equal(NatAddStatus.Overlap, otherTarget.Status);
        Assert.Equal(first.Connection.Translated, otherTarget.Connection.Translated);
        Assert.Equal(NatAddStatus.Overlap, otherTargetPort.Status);
        Assert.Equal(first.Connection.Translated, otherTargetPort.Connection.Translated);
        Assert.Equal(NatAddStatus.Ok, same.Status);
        Assert.Equal(first.Connection.Translated, same.Connection.Translated);
    }
}
