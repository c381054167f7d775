using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

public abstract partial class NatStoreConformanceTests
{
    // mirage-nat test_nat_ipv4: 192.168.108.26:255 -> 4.141.2.6:1024 as 128.104.108.1:45454, TTL 4 -> 3.
    [ConformanceTheory(Requires = StoreRequirement.AnyPublicPort)]
    [InlineData(NatProtocol.Udp)]
    [InlineData(NatProtocol.Tcp)]
    public async Task Nat_rewrites_the_first_packet_byte_for_byte(NatProtocol protocol)
    {
        var nat = NewTranslator();
        var packet = Transport(protocol, "192.168.108.26", 255, "4.141.2.6", 1024, ttl: 4);
        var expected = Transport(protocol, "128.104.108.1", 45454, "4.141.2.6", 1024, ttl: 3);

        var added = await nat.AddNatAsync(packet, A("128.104.108.1"), PortAllocator.Fixed(45454));

        Assert.Equal(NatAddStatus.Ok, added.Status);
        await AssertTranslatesTo(nat, packet, expected, FlowDirection.Outbound);
    }

    // mirage-nat test_add_nat_valid_pkt.
    [ConformanceTheory(Requires = StoreRequirement.AnyPublicPort)]
    [InlineData(NatProtocol.Udp)]
    [InlineData(NatProtocol.Tcp)]
    public async Task Reply_to_a_nat_connection_is_rewritten_back(NatProtocol protocol)
    {
        var nat = NewTranslator();
        var payload = "GET / HTTP/1.1\r\n"u8.ToArray();
        var packet = Transport(protocol, "192.168.108.26", 255, "4.141.2.6", 1024, 52, payload);
        Assert.True((await nat.AddNatAsync(packet, A("128.104.108.1"), PortAllocator.Fixed(45454))).IsOk);

        await AssertTranslatesTo(nat, packet, Transport(protocol, "128.104.108.1", 45454, "4.141.2.6", 1024, 51, payload), FlowDirection.Outbound);
        var reply = Transport(protocol, "4.141.2.6", 1024, "128.104.108.1", 45454, 52, payload);
        await AssertTranslatesTo(nat, reply, Transport(protocol, "4.141.2.6", 1024, "192.168.108.26", 255, 51, payload), FlowDirection.Reply);
    }

    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Adding_the_same_connection_again_is_ok_and_a_half_match_is_an_overlap()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "192.168.108.26", 255, "4.141.2.6", 1024, 52);
        var first = await nat.AddNatAsync(packet, A("128.104.108.1"), PortAllocator.Fixed(45454));

        var again = await nat.AddNatAsync(packet, A("128.104.108.1"), PortAllocator.Fixed(45454));
        var againOtherPort = await nat.AddNatAsync(packet, A("128.104.108.1"));
        // Source = the public address and port 255 -> 45454: the reply key (4.141.2.6:1024 -> 128.104.108.1:45454) is taken.
        var halfMatch = await nat.AddNatAsync(Transport(NatProtocol.Udp, "128.104.108.1", 255, "4.141.2.6", 1024, 52), A("128.104.108.1"), PortAllocator.Fixed(45454));

        Assert.Equal(NatAddStatus.Ok, again.Status);
        Assert.Equal(first.Connection.Translated, again.Connection.Translated);
        Assert.Equal(NatAddStatus.Ok, againOtherPort.Status);
        Assert.Equal(first.Connection.Translated, againOtherPort.Connection.Translated);
        Assert.Equal(NatAddStatus.Overlap, halfMatch.Status);
    }

    [Fact]
    public async Task Nat_to_another_public_address_of_a_mapped_flow_is_an_overlap()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 4000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);

        Assert.Equal(NatAddStatus.Overlap, (await nat.AddNatAsync(packet, A("198.51.100.9"))).Status);
    }

    [ConformanceTheory(Requires = StoreRequirement.AnyPublicPort)]
    [InlineData("255.255.255.255", "192.168.108.26")]
    [InlineData("224.0.0.251", "192.168.108.26")]
    [InlineData("0.0.0.0", "192.168.108.26")]
    [InlineData("127.0.0.1", "192.168.108.26")]
    [InlineData("169.254.1.1", "192.168.108.26")]
    [InlineData("4.141.2.6", "0.0.0.0")]
    [InlineData("4.141.2.6", "240.0.0.1")]
    public async Task Nat_refuses_flows_that_are_not_unicast(string destination, string source)
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Tcp, source, 255, destination, 1024, 30);

        var result = await nat.AddNatAsync(packet, A("128.104.108.1"), PortAllocator.Fixed(45454));

        Assert.Equal(NatAddStatus.CannotNat, result.Status);
        Assert.Equal(CannotNatReason.NotUnicast, result.Reason);
    }

    [Fact]
    public async Task Nat_refuses_unknown_protocols_icmp_errors_malformed_packets_and_a_bad_public_address()
    {
        var nat = NewTranslator();
        var gre = Packets.Ipv4PacketBuilder.Ipv4(A("10.77.0.2"), A("198.51.100.2"), 47, new byte[8]);
        var ping = Packets.Ipv4PacketBuilder.EchoRequest(A("10.77.0.2"), A("198.51.100.2"), 1, 1);
        var unreachable = Packets.Ipv4PacketBuilder.IcmpError(Packets.IcmpType.DestinationUnreachable, 3, A("10.77.0.2"), A("198.51.100.2"), ping);
        var truncated = Transport(NatProtocol.Udp, "10.77.0.2", 1, "198.51.100.2", 2, 64)[..20];

        Assert.Equal(CannotNatReason.UnsupportedProtocol, (await nat.AddNatAsync(gre, A("198.51.100.1"))).Reason);
        Assert.Equal(CannotNatReason.IcmpNotQuery, (await nat.AddNatAsync(unreachable, A("198.51.100.1"))).Reason);
        Assert.Equal(CannotNatReason.Malformed, (await nat.AddNatAsync(truncated, A("198.51.100.1"))).Reason);
        Assert.Equal(CannotNatReason.InvalidPublicAddress, (await nat.AddNatAsync(ping, A("0.0.0.0"))).Reason);
        Assert.Equal(CannotNatReason.IcmpRedirect, (await nat.AddRedirectAsync(ping, A("198.51.100.1"), A("10.77.0.3"), 0)).Reason);
    }

    [Fact]
    public async Task Packet_of_an_unknown_flow_is_untranslated_and_unchanged()
    {
        var nat = NewTranslator();

        await AssertUntranslated(nat, Transport(NatProtocol.Tcp, "10.77.0.2", 1000, "198.51.100.2", 80, 64));
    }

    [Fact]
    public async Task Ttl_of_one_or_zero_on_arrival_is_ttl_exceeded_and_the_packet_is_unchanged()
    {
        var nat = NewTranslator();
        var setup = Transport(NatProtocol.Udp, "10.77.0.2", 1000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(setup, A("198.51.100.1"))).IsOk);

        foreach (byte ttl in new byte[] { 1, 0 })
        {
            var packet = Transport(NatProtocol.Udp, "10.77.0.2", 1000, "198.51.100.2", 53, ttl);
            var (result, bytes) = await TranslateCopy(nat, packet);
            Assert.Equal(NatTranslateStatus.TtlExceeded, result.Status);
            Assert.Equal(packet, bytes);
        }
    }

    [Fact]
    public async Task Malformed_packet_is_dropped_with_its_reason()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 1000, "198.51.100.2", 53, 64);
        packet[10] ^= 0xFF; // header checksum

        var (result, _) = await TranslateCopy(nat, packet);

        Assert.Equal(NatTranslateStatus.Dropped, result.Status);
        Assert.Equal(Packets.PacketError.BadHeaderChecksum, result.Error);
    }

    [Fact]
    public async Task Dont_fragment_survives_translation()
    {
        var nat = NewTranslator();
        var packet = Packets.Ipv4PacketBuilder.Tcp(A("10.77.0.2"), 40000, A("198.51.100.2"), 80, CatPhoto, dontFragment: true);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);

        var (result, bytes) = await TranslateCopy(nat, packet);

        Assert.True(result.IsTranslated);
        Assert.Equal(0x40, bytes[6] & 0x40);
    }

    [Fact]
    public async Task Batch_translation_gives_the_same_bytes_and_results_as_one_at_a_time()
    {
        var nat = NewTranslator();
        var packets = new List<byte[]>();
        // More than two of the generated translator's 256-packet chunks, so chunk boundaries are crossed.
        for (int i = 0; i < 560; i++)
        {
            var packet = Transport(i % 2 == 0 ? NatProtocol.Udp : NatProtocol.Tcp, "10.77.0.2", (ushort)(2000 + i), "198.51.100.2", 80, 64);
            if (i % 3 != 0) Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);
            packets.Add(packet);
        }
        // Packets the batch sends down the one-packet path, among the common ones: malformed, ICMP, TTL 1.
        packets.Insert(10, new byte[] { 0x45, 0 });
        var echo = Echo("10.77.0.3", "198.51.100.2", 77, 64);
        Assert.True((await nat.AddNatAsync(echo, A("198.51.100.1"))).IsOk);
        packets.Insert(64, echo);
        packets.Insert(65, WithTtl(packets[66], 1));
        packets.Add(new byte[] { 0x45, 0 });
        var buffer = packets.SelectMany(p => p).ToArray();
        var ranges = new Range[packets.Count];
        int offset = 0;
        for (int i = 0; i < packets.Count; i++) { ranges[i] = new Range(offset, offset + packets[i].Length); offset += packets[i].Length; }
        var results = new NatTranslateResult[packets.Count];

        await nat.TranslateBatchAsync(buffer, ranges, results);

        Assert.Equal(NatTranslateStatus.Dropped, results[10].Status);
        Assert.Equal(FlowDirection.Outbound, results[64].Direction);
        Assert.True(results[64].IsTranslated);
        Assert.Equal(NatTranslateStatus.TtlExceeded, results[65].Status);
        Assert.True(results[67].IsTranslated); // the TTL 1 copy's original

        for (int i = 0; i < packets.Count; i++)
        {
            var (single, bytes) = await TranslateCopy(nat, packets[i]);
            Assert.Equal(single, results[i]);
            Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(buffer[ranges[i]]));
        }
    }

    [Fact]
    public async Task Concurrent_adds_of_one_flow_all_succeed_with_one_mapping()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 5000, "198.51.100.2", 53, 64);

        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () => await nat.AddNatAsync(packet, A("198.51.100.1")))));

        Assert.All(results, r => Assert.Equal(NatAddStatus.Ok, r.Status));
        Assert.Single(results.Select(r => r.Connection.Translated).Distinct());
    }

    [Fact]
    public async Task Reset_removes_every_connection()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Tcp, "10.77.0.2", 5000, "198.51.100.2", 80, 64);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);

        await nat.ResetAsync();

        await AssertUntranslated(nat, packet);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);
    }
}
