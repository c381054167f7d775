using System.Buffers.Binary;
using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Lookup-or-create: the translator's policy decides about a new flow in the same Translate call.
public abstract partial class NatStoreConformanceTests
{
    /// <summary>Source NAT of 10.77.0.0/24 behind 198.51.100.1, and TCP 198.51.100.1:8080 forwarded to 10.77.0.5:80 (from 10.77.0.1).</summary>
    protected static NatPolicy RouterPolicy { get; } = new()
    {
        SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), A("198.51.100.1"))],
        PortForwards = [new PortForwardRule(NatProtocol.Tcp, A("198.51.100.1"), 8080, A("10.77.0.5"), 80, A("10.77.0.1"))],
    };

    /// <summary>A translator with <see cref="RouterPolicy"/> (or <paramref name="policy"/>).</summary>
    /// <param name="policy">The policy; <see cref="RouterPolicy"/> when null.</param>
    /// <param name="configure">Changes the options after they are bound; may be null.</param>
    /// <returns>A translator over a new, empty store.</returns>
    protected INatTranslator NewPolicyTranslator(NatPolicy? policy = null, Action<NatOptions>? configure = null)
        => NewTranslator(o =>
        {
            o.Policy = policy ?? RouterPolicy;
            configure?.Invoke(o);
        });

    /// <summary>A TCP segment without payload.</summary>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <param name="flags">The TCP flags.</param>
    /// <param name="ttl">The time to live.</param>
    /// <returns>The segment.</returns>
    protected static byte[] Segment(string source, ushort sourcePort, string destination, ushort destinationPort, TcpFlags flags, byte ttl = 64)
        => Ipv4PacketBuilder.Tcp(A(source), sourcePort, A(destination), destinationPort, [], flags, ttl: ttl);

    /// <summary>The source port of a TCP or UDP datagram (no IP options).</summary>
    /// <param name="packet">The datagram.</param>
    /// <returns>The source port.</returns>
    protected static ushort SourcePortOf(byte[] packet) => BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(Ipv4Packet.MinHeaderLength));

    /// <summary>The source address of a datagram.</summary>
    /// <param name="packet">The datagram.</param>
    /// <returns>The source address.</returns>
    protected static Ipv4Address SourceOf(byte[] packet) => new(BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(12)));

    /// <summary>Translates the packet, asserting it was translated; returns the result and the bytes.</summary>
    /// <param name="nat">The translator.</param>
    /// <param name="packet">The datagram.</param>
    /// <param name="side">Where the packet arrives.</param>
    /// <returns>The result and the bytes after translation.</returns>
    protected static async Task<(NatTranslateResult Result, byte[] Bytes)> Translated(INatTranslator nat, byte[] packet, NatSide side = NatSide.Unknown)
    {
        var copy = (byte[])packet.Clone();
        var result = await nat.TranslateAsync(copy, side);
        Assert.True(result.IsTranslated, $"expected Translated, got {result}");
        AssertChecksumsValid(copy);
        return (result, copy);
    }

    [Theory]
    [InlineData(NatProtocol.Udp)]
    [InlineData(NatProtocol.Tcp)]
    public async Task First_packet_from_an_inside_network_creates_its_connection_in_the_same_call(NatProtocol protocol)
    {
        var nat = NewPolicyTranslator();
        var packet = Transport(protocol, "10.77.0.2", 40000, "198.51.100.2", 53, 64);

        var (first, bytes) = await Translated(nat, packet);
        var (second, again) = await Translated(nat, packet);

        Assert.True(first.Created);
        Assert.Equal(FlowDirection.Outbound, first.Direction);
        Assert.False(second.Created);
        ushort port = SourcePortOf(bytes);
        Assert.Equal(Convert.ToHexString(Transport(protocol, "198.51.100.1", port, "198.51.100.2", 53, 63)), Convert.ToHexString(bytes));
        Assert.Equal(bytes, again);
        // The answer finds the connection the first packet created.
        var reply = Transport(protocol, "198.51.100.2", 53, "198.51.100.1", port, 64);
        await AssertTranslatesTo(nat, reply, Transport(protocol, "198.51.100.2", 53, "10.77.0.2", 40000, 63), FlowDirection.Reply);
        // AddNat of the flow finds it too: the same mapping (mirage-nat's idempotent add).
        var added = await nat.AddNatAsync(packet, A("198.51.100.1"));
        Assert.Equal(NatAddStatus.Ok, added.Status);
        Assert.Equal(port, added.Connection.AllocatedPort);
    }

    [Fact]
    public async Task Answer_from_outside_to_an_unmapped_port_creates_nothing()
    {
        var nat = NewPolicyTranslator();

        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "198.51.100.2", 53, "198.51.100.1", 40000, 64));
        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "198.51.100.2", 53, "10.77.0.2", 40000, 64));
        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Udp, A("198.51.100.2"), A("198.51.100.1"), 53, 40000));
    }

    [Fact]
    public async Task Echo_request_from_inside_creates_a_query_mapping_its_reply_uses()
    {
        var nat = NewPolicyTranslator();
        var ping = Ipv4PacketBuilder.EchoRequest(A("10.77.0.2"), A("198.51.100.2"), 77, 1);

        var (result, bytes) = await Translated(nat, ping);

        Assert.True(result.Created);
        Assert.Equal(Ipv4Address.Parse("198.51.100.1"), SourceOf(bytes));
        ushort identifier = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(Ipv4Packet.MinHeaderLength + 4));
        var pong = Ipv4PacketBuilder.EchoReply(A("198.51.100.2"), A("198.51.100.1"), identifier, 1);
        await AssertTranslatesTo(nat, pong, Ipv4PacketBuilder.EchoReply(A("198.51.100.2"), A("10.77.0.2"), 77, 1, ttl: 63), FlowDirection.Reply);
    }

    [Fact]
    public async Task Packet_from_outside_to_a_port_forward_creates_the_redirect()
    {
        var nat = NewPolicyTranslator();
        var syn = Segment("198.51.100.7", 5000, "198.51.100.1", 8080, TcpFlags.Syn);

        var (result, bytes) = await Translated(nat, syn, NatSide.Outside);

        Assert.True(result.Created);
        ushort port = SourcePortOf(bytes);
        Assert.Equal(Convert.ToHexString(Segment("10.77.0.1", port, "10.77.0.5", 80, TcpFlags.Syn, 63)), Convert.ToHexString(bytes));
        var synAck = Segment("10.77.0.5", 80, "10.77.0.1", port, TcpFlags.Syn | TcpFlags.Ack);
        await AssertTranslatesTo(nat, synAck, Segment("198.51.100.1", 8080, "198.51.100.7", 5000, TcpFlags.Syn | TcpFlags.Ack, 63), FlowDirection.Reply);
        // Only the forwarded protocol and port: UDP to 8080 and TCP to 8081 stay untranslated.
        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "198.51.100.7", 5000, "198.51.100.1", 8080, 64));
        await AssertUntranslated(nat, Segment("198.51.100.7", 5000, "198.51.100.1", 8081, TcpFlags.Syn));
    }

    [Fact]
    public async Task A_side_that_contradicts_the_source_address_creates_nothing()
    {
        var nat = NewPolicyTranslator();
        var fromInside = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        var fromOutside = Transport(NatProtocol.Udp, "198.51.100.2", 53, "198.51.100.9", 40000, 64);

        // An inside source arriving from outside is spoofed; an outside source arriving from inside is not ours to NAT.
        await AssertUntranslated(nat, fromInside, UntranslatedReason.SpoofedSource, NatSide.Outside);
        await AssertUntranslated(nat, fromOutside, UntranslatedReason.NotFromInsideNetwork, NatSide.Inside);
        // Without a side, the address decides.
        await AssertUntranslated(nat, fromOutside, UntranslatedReason.NoConnection);
        Assert.True((await Translated(nat, fromInside, NatSide.Inside)).Result.Created);
    }

    [Theory]
    [InlineData("255.255.255.255")]
    [InlineData("224.0.0.251")]
    [InlineData("127.0.0.1")]
    public async Task Inside_traffic_to_a_broadcast_multicast_or_loopback_address_creates_nothing(string destination)
    {
        var nat = NewPolicyTranslator();

        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, destination, 5353, 64), UntranslatedReason.NotUnicast);
    }

    [Fact]
    public async Task Without_a_policy_a_miss_stays_untranslated()
    {
        var nat = NewTranslator();
        Assert.Same(NatPolicy.None, nat.Policy);

        await AssertUntranslated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64));
    }

    [Fact]
    public async Task The_first_matching_source_nat_rule_decides()
    {
        var nat = NewPolicyTranslator(new NatPolicy
        {
            SourceNat =
            [
                new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/25"), A("198.51.100.1")),
                new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), A("198.51.100.2")),
            ],
        });

        var (_, low) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.9", 53, 64));
        var (_, high) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.200", 40000, "198.51.100.9", 53, 64));

        Assert.Equal(A("198.51.100.1"), SourceOf(low));
        Assert.Equal(A("198.51.100.2"), SourceOf(high));
    }

    [Fact]
    public async Task Replacing_the_policy_applies_to_new_flows_and_keeps_existing_connections()
    {
        var nat = NewPolicyTranslator();
        var old = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        var (_, oldBytes) = await Translated(nat, old);

        nat.Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), A("198.51.100.9"))] };
        var (created, newBytes) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40001, "198.51.100.2", 53, 64));
        var (kept, keptBytes) = await Translated(nat, old);

        Assert.True(created.Created);
        Assert.Equal(A("198.51.100.9"), SourceOf(newBytes));
        Assert.False(kept.Created);
        Assert.Equal(oldBytes, keptBytes);
        // An unusable policy is refused and the current one stays.
        var invalid = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), A("10.77.0.1"))] };
        Assert.Throws<ArgumentException>(() => nat.Policy = invalid);
        Assert.Equal(A("198.51.100.9"), SourceOf((await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40002, "198.51.100.2", 53, 64))).Bytes));
    }

    [Fact]
    public async Task Concurrent_first_packets_of_one_flow_end_with_one_connection_and_the_same_bytes()
    {
        var nat = NewPolicyTranslator();
        for (int flow = 0; flow < 200; flow++)
        {
            var packet = Transport(NatProtocol.Udp, "10.77.0.2", (ushort)(20000 + flow), "198.51.100.2", 53, 64);
            var copies = new[] { (byte[])packet.Clone(), (byte[])packet.Clone() };
            using var start = new Barrier(2);
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Task.Run(async () =>
            {
                start.SignalAndWait();
                return await nat.TranslateAsync(copies[i]);
            })));

            Assert.All(results, r => Assert.True(r.IsTranslated, r.ToString()));
            Assert.Equal(1, results.Count(r => r.Created));
            Assert.Equal(Convert.ToHexString(copies[0]), Convert.ToHexString(copies[1]));
        }
    }

    [Fact]
    public async Task A_batch_creates_new_flows_and_says_which()
    {
        var nat = NewPolicyTranslator();
        var packets = new[]
        {
            Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64),
            Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.2", 53, 64),
            Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64), // the first flow again
            Transport(NatProtocol.Udp, "198.51.100.2", 53, "198.51.100.1", 1, 64),  // an answer nobody asked for
            Segment("10.77.0.4", 40000, "198.51.100.2", 80, TcpFlags.Syn),
        };
        var buffer = packets.SelectMany(p => p).ToArray();
        var ranges = new Range[packets.Length];
        for (int i = 0, offset = 0; i < packets.Length; offset += packets[i].Length, i++) ranges[i] = offset..(offset + packets[i].Length);
        var results = new NatTranslateResult[packets.Length];

        await nat.TranslateBatchAsync(buffer, ranges, results, NatSide.Unknown);

        Assert.Equal([true, true, false, false, true], results.Select(r => r.Created));
        Assert.Equal([true, true, true, false, true], results.Select(r => r.IsTranslated));
        Assert.Equal(UntranslatedReason.NoConnection, results[3].Reason);
        Assert.Equal(buffer[ranges[0]], buffer[ranges[2]]);
    }

    [Fact]
    public async Task A_reset_or_a_last_hop_packet_opens_nothing()
    {
        var nat = NewPolicyTranslator();
        var rst = Segment("10.77.0.2", 40000, "198.51.100.2", 80, TcpFlags.Rst | TcpFlags.Ack);
        var lastHop = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 1);

        await AssertUntranslated(nat, rst);
        var (result, _) = await TranslateCopy(nat, lastHop);
        Assert.Equal(NatTranslateStatus.TtlExceeded, result.Status);

        // Neither left a connection behind: the same flows still start afresh.
        Assert.True((await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, TcpFlags.Syn))).Result.Created);
        Assert.True((await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64))).Result.Created);
    }

    [Fact]
    public async Task A_first_packet_whose_udp_length_lies_is_dropped_and_creates_nothing()
    {
        var nat = NewPolicyTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(Ipv4Packet.MinHeaderLength + 4), 100);

        var (result, bytes) = await TranslateCopy(nat, packet);

        Assert.Equal(NatTranslateStatus.Dropped, result.Status);
        Assert.Equal(PacketError.BadUdpLength, result.Error);
        Assert.Equal(packet, bytes);
        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Udp, A("10.77.0.2"), A("198.51.100.2"), 40000, 53));
    }
}
