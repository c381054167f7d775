using System.Buffers.Binary;
using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

public abstract partial class NatStoreConformanceTests
{
    private static byte[] Echo(string source, string destination, ushort id, byte ttl, bool reply = false)
        => Ipv4PacketBuilder.IcmpQuery(reply ? IcmpType.EchoReply : IcmpType.EchoRequest, A(source), A(destination), id, 9, [], ttl);

    /// <summary>An ICMP error quoting <paramref name="offending"/>'s header and first 8 bytes, as mirage-nat's <c>icmp_error_payload</c>.</summary>
    private static byte[] Unreachable(string source, string destination, byte[] offending, byte ttl)
        => Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 1, A(source), A(destination), offending, 8, 0, ttl);

    private static byte[] WithTtl(byte[] packet, byte ttl)
    {
        var copy = (byte[])packet.Clone();
        copy[Ipv4Packet.TtlOffset] = ttl;
        Ipv4Packet.RecomputeHeaderChecksum(copy.AsSpan(0, 20));
        return copy;
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task An_icmp_error_about_a_flow_neither_refreshes_nor_ends_it()
    {
        var nat = NewTranslator(); // both directions refresh a flow: only the error's own rule is left to show
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        var added = await nat.AddNatAsync(packet, A("198.51.100.1"));
        var (_, sent) = await TranslateCopy(nat, packet);

        Clock.Advance(TimeSpan.FromSeconds(200));
        var (error, _) = await TranslateCopy(nat, Unreachable("198.51.100.2", "198.51.100.1", sent, 64));
        Assert.True(error.IsTranslated);
        Clock.Advance(TimeSpan.FromSeconds(101)); // 301 s since the flow's last packet, 101 s since the error

        // RFC 5508 REQ-6: the error did not refresh the session (nor end it before its time, as the first check showed).
        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "198.51.100.2", 53, "198.51.100.1", added.Connection.AllocatedPort, 64));
    }

    [Fact]
    public async Task An_icmp_error_with_a_bad_checksum_or_a_damaged_quoted_header_is_dropped()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);
        var (_, sent) = await TranslateCopy(nat, packet);
        var badChecksum = Unreachable("198.51.100.2", "198.51.100.1", sent, 64);
        badChecksum[Ipv4Packet.MinHeaderLength + 2] ^= 0xFF;
        var damagedQuote = (byte[])sent.Clone();
        damagedQuote[Ipv4Packet.SourceOffset] ^= 0x01; // the quoted header no longer adds up (and the error's checksum is recomputed over it)
        var badQuote = Unreachable("198.51.100.2", "198.51.100.1", damagedQuote, 64);

        // RFC 5508 REQ-3: dropped, each with its reason, and left as it was.
        foreach (var (error, reason) in new[] { (badChecksum, PacketError.BadIcmpChecksum), (badQuote, PacketError.BadEmbeddedHeaderChecksum) })
        {
            var (result, bytes) = await TranslateCopy(nat, error);
            Assert.Equal(NatTranslateStatus.Dropped, result.Status);
            Assert.Equal(reason, result.Error);
            Assert.Equal(error, bytes);
        }
    }

    // mirage-nat test_ping.
    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Ping_is_translated_by_identifier_both_ways()
    {
        var nat = NewTranslator();
        var request = Echo("192.168.1.5", "8.8.8.8", 5, 64);

        Assert.True((await nat.AddNatAsync(request, A("82.1.1.8"), PortAllocator.Fixed(81))).IsOk);

        await AssertTranslatesTo(nat, request, Echo("82.1.1.8", "8.8.8.8", 81, 63), FlowDirection.Outbound);
        await AssertTranslatesTo(nat, Echo("8.8.8.8", "82.1.1.8", 81, 64, reply: true), Echo("8.8.8.8", "192.168.1.5", 5, 63, reply: true), FlowDirection.Reply);
    }

    [ConformanceTheory(Requires = StoreRequirement.AnyPublicPort)]
    [InlineData(IcmpType.TimestampRequest, IcmpType.TimestampReply)]
    [InlineData(IcmpType.InformationRequest, IcmpType.InformationReply)]
    public async Task Timestamp_and_information_queries_are_translated_by_identifier(IcmpType requestType, IcmpType replyType)
    {
        var nat = NewTranslator();
        var request = Ipv4PacketBuilder.IcmpQuery(requestType, A("10.77.0.2"), A("198.51.100.2"), 77, 1, new byte[12]);
        Assert.True((await nat.AddNatAsync(request, A("198.51.100.1"), PortAllocator.Fixed(4077))).IsOk);

        await AssertTranslatesTo(nat, request, Ipv4PacketBuilder.IcmpQuery(requestType, A("198.51.100.1"), A("198.51.100.2"), 4077, 1, new byte[12], 63), FlowDirection.Outbound);
        var reply = Ipv4PacketBuilder.IcmpQuery(replyType, A("198.51.100.2"), A("198.51.100.1"), 4077, 1, new byte[12]);
        await AssertTranslatesTo(nat, reply, Ipv4PacketBuilder.IcmpQuery(replyType, A("198.51.100.2"), A("10.77.0.2"), 77, 1, new byte[12], 63), FlowDirection.Reply);
    }

    // mirage-nat test_ping_icmp_error: an intermediate router (8.8.8.1) reports the translated ping unreachable.
    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Icmp_error_about_a_ping_reaches_the_inside_host()
    {
        var nat = NewTranslator();
        var request = Echo("192.168.1.5", "8.8.8.8", 5, 64);
        Assert.True((await nat.AddNatAsync(request, A("82.1.1.8"), PortAllocator.Fixed(81))).IsOk);
        var sent = Echo("82.1.1.8", "8.8.8.8", 81, 63);
        await AssertTranslatesTo(nat, request, sent, FlowDirection.Outbound);

        var error = Unreachable("8.8.8.1", "82.1.1.8", sent, 64);
        var expected = Unreachable("8.8.8.1", "192.168.1.5", WithTtl(request, 63), 63);

        await AssertTranslatesTo(nat, error, expected, FlowDirection.Reply);
    }

    // mirage-nat test_udp_icmp_error and test_tcp_icmp_error; here the quoted UDP checksum is updated too (RFC 5508 REQ-4).
    [ConformanceTheory(Requires = StoreRequirement.AnyPublicPort)]
    [InlineData(NatProtocol.Udp, "8.8.8.1")]
    [InlineData(NatProtocol.Tcp, "8.8.8.8")]
    public async Task Icmp_error_about_a_udp_or_tcp_flow_reaches_the_inside_host(NatProtocol protocol, string reporter)
    {
        var nat = NewTranslator();
        var payload = protocol == NatProtocol.Tcp ? new byte[1000] : [];
        var packet = Transport(protocol, "192.168.1.5", 3210, "8.8.8.8", 80, 64, payload);
        Assert.True((await nat.AddNatAsync(packet, A("82.1.1.8"), PortAllocator.Fixed(81))).IsOk);
        var sent = Transport(protocol, "82.1.1.8", 81, "8.8.8.8", 80, 63, payload);
        await AssertTranslatesTo(nat, packet, sent, FlowDirection.Outbound);

        var error = Unreachable(reporter, "82.1.1.8", sent, 64);
        var expected = Unreachable(reporter, "192.168.1.5", WithTtl(packet, 63), 63);

        await AssertTranslatesTo(nat, error, expected, FlowDirection.Reply);
    }

    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Icmp_error_from_the_inside_target_of_a_port_forward_leaves_with_the_public_address()
    {
        var nat = NewTranslator();
        var request = Transport(NatProtocol.Udp, "203.0.113.9", 5353, "198.51.100.1", 53, 64);
        Assert.True((await nat.AddRedirectAsync(request, A("10.77.0.1"), A("10.77.0.2"), 53, PortAllocator.Fixed(7000))).IsOk);
        var delivered = Transport(NatProtocol.Udp, "10.77.0.1", 7000, "10.77.0.2", 53, 63);
        await AssertTranslatesTo(nat, request, delivered, FlowDirection.Outbound);

        // The inside host answers port unreachable about what it received.
        var error = Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, A("10.77.0.2"), A("10.77.0.1"), delivered, 8, 0, 64);
        var expected = Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, A("198.51.100.1"), A("203.0.113.9"), WithTtl(request, 63), 8, 0, 63);

        await AssertTranslatesTo(nat, error, expected, FlowDirection.Reply);
    }

    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Icmp_error_with_more_than_eight_quoted_bytes_keeps_them_and_stays_valid()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Tcp, "10.77.0.2", 40000, "198.51.100.2", 80, 64, new byte[200]);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"), PortAllocator.Fixed(50000))).IsOk);
        var sent = Transport(NatProtocol.Tcp, "198.51.100.1", 50000, "198.51.100.2", 80, 63, new byte[200]);

        // RFC 1812 §4.3.2.3: routers may quote up to 576 bytes; the quoted TCP checksum is then present and updated.
        var error = Ipv4PacketBuilder.IcmpError(IcmpType.TimeExceeded, 0, A("198.51.100.77"), A("198.51.100.1"), sent, 64, 0, 64);
        var expected = Ipv4PacketBuilder.IcmpError(IcmpType.TimeExceeded, 0, A("198.51.100.77"), A("10.77.0.2"), WithTtl(packet, 63), 64, 0, 63);

        await AssertTranslatesTo(nat, error, expected, FlowDirection.Reply);
    }

    [Fact]
    public async Task Icmp_error_about_an_unknown_flow_or_about_an_icmp_error_is_untranslated()
    {
        var nat = NewTranslator();
        var stranger = Transport(NatProtocol.Udp, "198.51.100.1", 9999, "198.51.100.2", 53, 63);
        var aboutStranger = Unreachable("198.51.100.2", "198.51.100.1", stranger, 64);
        var aboutError = Unreachable("198.51.100.2", "198.51.100.1", aboutStranger, 64);
        var truncated = aboutStranger[..(aboutStranger.Length - 4)];
        truncated[3] = (byte)truncated.Length;
        Ipv4Packet.RecomputeHeaderChecksum(truncated.AsSpan(0, 20));
        // A valid ICMP checksum over what is left, so the cut quote itself is what gets it dropped.
        truncated[22] = truncated[23] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(truncated.AsSpan(22), InternetChecksum.Compute(truncated.AsSpan(20)));

        await AssertUntranslated(nat, aboutStranger);
        await AssertUntranslated(nat, aboutError, UntranslatedReason.IcmpErrorNotTranslatable);
        var (result, _) = await TranslateCopy(nat, truncated);
        Assert.Equal(NatTranslateStatus.Dropped, result.Status);
        Assert.Equal(PacketError.TruncatedIcmpErrorPayload, result.Error);
    }

    [Fact]
    public async Task Icmp_that_is_neither_query_nor_error_is_untranslated()
    {
        var nat = NewTranslator();
        var advertisement = Ipv4PacketBuilder.Ipv4(A("198.51.100.2"), A("198.51.100.1"), 1, [9, 0, 0xF6, 0xFF, 0, 0, 0, 0]);

        await AssertUntranslated(nat, advertisement, UntranslatedReason.UnsupportedIcmpType);
    }
}
