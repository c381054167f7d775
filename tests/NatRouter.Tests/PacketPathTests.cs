using System.Buffers.Binary;
using NatFramework;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatRouter.Tests;

/// <summary>
/// The router's packet path driven through in-memory interfaces (no root needed): allocation, drops by reason, ICMP
/// answers, fragmentation, and TUN offload frames (segment trains, unfinished checksums).
/// </summary>
public sealed class PacketPathTests
{
    private static readonly Ipv4Address Client = Ipv4Address.Parse("10.77.0.2");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private sealed class Bench : IDisposable
    {
        public Bench(bool offload, IReadOnlyList<ForwardRule>? forwards = null, int udpPerHost = 0)
        {
            Offload = offload;
            Header = offload ? VirtioNetHeader.Length : 0;
            Inside = new MemoryPort(offload);
            Outside = new MemoryPort(offload);
            var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24"), 1500, forwards) { UdpConnectionsPerHost = udpPerHost };
            Router = new PacketRouter(LruNatTranslator.Create(new NatOptions { PublicAddress = Public, Policy = settings.Policy }), settings, Inside, Outside);
        }

        public bool Offload { get; }
        public int Header { get; }
        public MemoryPort Inside { get; }
        public MemoryPort Outside { get; }
        public PacketRouter Router { get; }

        /// <summary>Sends a packet in from one side and returns what came out of the other (packets, headers stripped).</summary>
        public List<byte[]> Through(byte[] packet, bool fromInside, byte[]? header = null)
        {
            var frame = new byte[Header + packet.Length];
            if (header is not null) header.CopyTo(frame, 0);
            packet.CopyTo(frame, Header);
            (fromInside ? Inside : Outside).Inject(frame);
            Router.RunOnce(fromInside, 0);
            return Drain(fromInside ? Outside : Inside);
        }

        public List<byte[]> Drain(MemoryPort port)
        {
            var packets = new List<byte[]>();
            while (port.TakeWritten() is { } frame) packets.Add(frame[Header..]);
            return packets;
        }

        public void Dispose() => Router.Dispose();
    }

    private static ushort SourcePort(byte[] packet) => BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(20));

    [Fact]
    public void A_translator_without_a_policy_gets_the_routers_and_translates_from_inside()
    {
        var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24"));
        var nat = LruNatTranslator.Create(new NatOptions { PublicAddress = Public }); // NatPolicy.None: it would only look up
        Assert.Same(NatPolicy.None, nat.Policy);
        var inside = new MemoryPort(offload: false);
        var outside = new MemoryPort(offload: false);
        using var router = new PacketRouter(nat, settings, inside, outside);

        Assert.Equal(settings.Policy.SourceNat, nat.Policy.SourceNat);
        inside.Inject(Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, "q"u8));
        router.RunOnce(fromInside: true, 0);
        var sent = outside.TakeWritten();
        Assert.NotNull(sent);
        Assert.Equal(Public, new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(Ipv4Packet.SourceOffset))));
    }

    [Fact]
    public void A_translator_whose_policy_skips_the_private_network_is_refused_naming_it()
    {
        var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24"));
        var nat = LruNatTranslator.Create(new NatOptions
        {
            Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("192.168.1.0/24"), Public)] },
        });

        var error = Assert.Throws<ArgumentException>(() => new PacketRouter(nat, settings, new MemoryPort(false), new MemoryPort(false)));

        Assert.Contains("no source-NAT rule for 10.77.0.0/24", error.Message);
        Assert.Contains("192.168.1.0/24", error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Packets_of_an_established_flow_allocate_nothing(bool offload)
    {
        using var bench = new Bench(offload);
        var syn = Ipv4PacketBuilder.Tcp(Client, 40000, Server, 80, [], TcpFlags.Syn);
        var mapped = Assert.Single(bench.Through(syn, fromInside: true));
        var reply = Ipv4PacketBuilder.Tcp(Server, 80, Public, SourcePort(mapped), [], TcpFlags.Syn | TcpFlags.Ack);
        Assert.Single(bench.Through(reply, fromInside: false));
        var data = Ipv4PacketBuilder.Tcp(Client, 40000, Server, 80, new byte[1400], TcpFlags.Ack);
        var frame = new byte[bench.Header + data.Length];
        data.CopyTo(frame, bench.Header);
        var replyFrame = new byte[bench.Header + reply.Length];
        reply.CopyTo(replyFrame, bench.Header);

        void Round()
        {
            bench.Inside.Inject(frame);
            bench.Router.RunOnce(fromInside: true, 0);
            bench.Outside.Inject(replyFrame);
            bench.Router.RunOnce(fromInside: false, 0);
            bench.Outside.DiscardWritten();
            bench.Inside.DiscardWritten();
        }

        // Warm up until tiered compilation has settled: methods are recompiled optimised some 100 ms after their first
        // calls, and a method with a loop switches to its optimised version on the running thread (on-stack replacement),
        // where the runtime's work is counted as this thread's allocations.
        var warming = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 200 || warming.ElapsedMilliseconds < 600; i++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5000; i++) Round();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(bench.Router.Counters.Translated >= 10_000);
    }

    [Theory]
    [InlineData(2, 1000)]
    [InlineData(1, 0)]
    public void A_started_router_moves_packets_on_its_own_threads_and_stops_on_dispose(int threads, int spinMicroseconds)
    {
        var inside = new MemoryPort();
        var outside = new MemoryPort();
        var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24")) { Threads = threads, SpinTime = TimeSpan.FromMicroseconds(spinMicroseconds) };
        var router = new PacketRouter(LruNatTranslator.Create(new NatOptions { PublicAddress = Public, Policy = settings.Policy }), settings, inside, outside);
        router.Start();
        try
        {
            inside.Inject(Ipv4PacketBuilder.Tcp(Client, 40000, Server, 80, [], TcpFlags.Syn));
            Assert.True(SpinWait.SpinUntil(() => outside.WrittenCount == 1, TimeSpan.FromSeconds(10)));
            var mapped = outside.TakeWritten()!;
            outside.Inject(Ipv4PacketBuilder.Tcp(Server, 80, Public, SourcePort(mapped), [], TcpFlags.Syn | TcpFlags.Ack));
            Assert.True(SpinWait.SpinUntil(() => inside.WrittenCount == 1, TimeSpan.FromSeconds(10)));
        }
        finally
        {
            router.Dispose(); // joins the threads: a hang here fails the test run
        }
        Assert.Equal(2, router.Counters.Translated);
        router.Dispose(); // a second dispose (a host and a using block, say) does nothing
    }

    [Fact]
    public void Malformed_packets_are_dropped_by_reason_and_the_path_goes_on()
    {
        using var bench = new Bench(offload: false);
        var badChecksum = Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, new byte[8]);
        badChecksum[10] ^= 0xFF;
        var truncatedTcp = Ipv4PacketBuilder.Tcp(Client, 5000, Server, 80, [])[..30];
        BinaryPrimitives.WriteUInt16BigEndian(truncatedTcp.AsSpan(2), 30);
        Ipv4Packet.RecomputeHeaderChecksum(truncatedTcp.AsSpan(0, 20));
        byte[] ipv6 = [0x60, 0, 0, 0, 0, 0, 17, 64, .. new byte[32]];

        foreach (var junk in new[] { badChecksum, truncatedTcp, ipv6, new byte[] { 0x45 }, new byte[3000] })
            Assert.Empty(bench.Through(junk, fromInside: true));
        var fine = bench.Through(Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, new byte[8]), fromInside: true);

        Assert.Single(fine);
        var dropped = bench.Router.Counters.Dropped;
        Assert.Equal(1, dropped["bad-header-checksum"]);
        Assert.Equal(1, dropped["truncated-tcp-header"]);
        Assert.Equal(2, dropped["not-ipv4"]); // the IPv6 packet and the zeroed buffer
        Assert.Equal(1, dropped["too-short"]);
        Assert.Equal(5, bench.Router.Counters.DroppedTotal);
    }

    [Fact]
    public void Unsolicited_inbound_packets_are_dropped_as_no_connection()
    {
        using var bench = new Bench(offload: false);

        Assert.Empty(bench.Through(Ipv4PacketBuilder.Tcp(Server, 80, Public, 40000, [], TcpFlags.Syn), fromInside: false));

        Assert.Equal(1, bench.Router.Counters.Dropped["no-connection"]);
        Assert.Equal(0, bench.Router.Counters.ConnectionsAdded);
    }

    [Fact]
    public void A_port_forward_opens_a_redirect_from_the_routers_inside_address()
    {
        using var bench = new Bench(offload: false, [new ForwardRule(NatProtocol.Tcp, 8080, Client, 80)]);

        var forwarded = Assert.Single(bench.Through(Ipv4PacketBuilder.Tcp(Server, 51000, Public, 8080, [], TcpFlags.Syn), fromInside: false));

        Ipv4Packet.TryParse(forwarded, out var ip);
        Assert.Equal(Ipv4Address.Parse("10.77.0.1"), ip.Source);
        Assert.Equal(Client, ip.Destination);
        Assert.Equal(80, ip.Tcp.DestinationPort);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ttl_one_is_answered_with_time_exceeded_from_the_inside_address(bool offload)
    {
        using var bench = new Bench(offload);

        Assert.Empty(bench.Through(Ipv4PacketBuilder.Udp(Client, 5000, Server, 33434, new byte[8], ttl: 1), fromInside: true));
        var answer = Assert.Single(bench.Drain(bench.Inside));

        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(answer, out var ip));
        Assert.Equal(Ipv4Address.Parse("10.77.0.1"), ip.Source);
        Assert.Equal(Client, ip.Destination);
        Assert.Equal(IcmpType.TimeExceeded, ip.Icmp.Type);
        Assert.True(InternetChecksum.Verify(ip.Payload));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pings_of_the_router_are_answered_by_it_and_open_no_connection(bool offload)
    {
        using var bench = new Bench(offload);
        var routerInside = Ipv4Address.Parse("10.77.0.1");
        var stranger = Ipv4Address.Parse("198.51.100.9");

        List<byte[]> Echo(byte[] request, bool fromInside)
        {
            var frame = new byte[bench.Header + request.Length];
            request.CopyTo(frame, bench.Header);
            var port = fromInside ? bench.Inside : bench.Outside;
            port.Inject(frame);
            bench.Router.RunOnce(fromInside, 0);
            Assert.Empty(bench.Drain(fromInside ? bench.Outside : bench.Inside)); // nothing crosses the router
            return bench.Drain(port);
        }

        // From inside to the public address (what a hairpinned ping can mean for a NAPT) and to the router's inside address;
        // from outside to the public address, whatever identifier it carries.
        foreach (var (from, to, fromInside) in new[] { (Client, Public, true), (Client, routerInside, true), (stranger, Public, false) })
        {
            var request = Ipv4PacketBuilder.EchoRequest(from, to, 0x4242, 7, "ping data"u8.ToArray());
            var reply = Assert.Single(Echo(request, fromInside));
            var expected = AsAnswerTo(Ipv4PacketBuilder.EchoReply(to, from, 0x4242, 7, "ping data"u8.ToArray()), request);
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(reply));
        }
        Assert.Equal(0, bench.Router.Counters.Translated);
        Assert.Equal(0, bench.Router.Counters.ConnectionsAdded);

        // A damaged echo request is dropped and counted, not answered.
        var damaged = Ipv4PacketBuilder.EchoRequest(Client, Public, 1, 1, "x"u8.ToArray());
        damaged[^1] ^= 0xFF;
        Assert.Empty(Echo(damaged, fromInside: true));
        Assert.Equal(1, bench.Router.Counters.Dropped["bad-icmp-checksum"]);
    }

    /// <summary>A built reply with the request's identification and flags, which the router's answer keeps.</summary>
    private static byte[] AsAnswerTo(byte[] reply, byte[] request)
    {
        request.AsSpan(Ipv4Packet.IdentificationOffset, 4).CopyTo(reply.AsSpan(Ipv4Packet.IdentificationOffset));
        Ipv4Packet.RecomputeHeaderChecksum(reply.AsSpan(0, Ipv4Packet.MinHeaderLength));
        return reply;
    }

    [Fact]
    public void A_new_flow_refused_for_its_hosts_quota_is_answered_administratively_prohibited()
    {
        using var bench = new Bench(offload: false, udpPerHost: 1);
        Assert.Single(bench.Through(Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, new byte[8]), fromInside: true));

        Assert.Empty(bench.Through(Ipv4PacketBuilder.Udp(Client, 5001, Server, 53, new byte[8]), fromInside: true));

        var answer = Assert.Single(bench.Drain(bench.Inside));
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(answer, out var icmp));
        Assert.Equal(IcmpType.DestinationUnreachable, icmp.Icmp.Type);
        Assert.Equal(13, icmp.Icmp.Code); // RFC 5508 REQ-8
        Assert.Equal(Client, icmp.Destination);
        Assert.Equal(1, bench.Router.Counters.Dropped["quota-exceeded"]);
    }

    [Fact]
    public void Too_big_with_df_gets_fragmentation_needed_with_the_mtu_and_without_df_is_fragmented()
    {
        using var bench = new Bench(offload: false);

        Assert.Empty(bench.Through(Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, new byte[3000], dontFragment: true), fromInside: true));
        var answer = Assert.Single(bench.Drain(bench.Inside));
        Ipv4Packet.TryParse(answer, out var icmp);
        Assert.Equal(IcmpType.DestinationUnreachable, icmp.Icmp.Type);
        Assert.Equal(4, icmp.Icmp.Code);
        Assert.Equal(1500, BinaryPrimitives.ReadUInt16BigEndian(icmp.Payload[6..]));

        Thread.Sleep(20); // past the ICMP rate limit; the next packet is not answered anyway
        var fragments = bench.Through(Ipv4PacketBuilder.Udp(Client, 5001, Server, 53, new byte[3000]), fromInside: true);
        Assert.Equal(3, fragments.Count);
        Assert.All(fragments, f => Assert.True(f.Length <= 1500));
    }

    /// <summary>A TCP packet as a TUN with offloads hands it over: the checksum field holds only the pseudo-header sum.</summary>
    private static (byte[] Packet, byte[] Header) Unfinished(byte[] packet, ushort segmentSize = 0)
    {
        Ipv4Packet.TryParse(packet, out var ip);
        bool tcp = ip.Protocol == IpProtocol.Tcp;
        int checksumAt = 20 + (tcp ? 16 : 6);
        ushort pseudo = InternetChecksum.Fold(InternetChecksum.PseudoHeaderSum(ip.Source, ip.Destination, ip.ProtocolNumber, ip.Payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(checksumAt), pseudo);
        var header = new byte[VirtioNetHeader.Length];
        header[0] = 1; // NEEDS_CSUM
        if (segmentSize > 0)
        {
            header[1] = 1; // GSO TCPv4
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), 40);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), segmentSize);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 20);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(tcp ? 16 : 6));
        return (packet, header);
    }

    /// <summary>Finishes an unfinished checksum as the kernel would, and checks it against a full computation.</summary>
    private static void AssertFinishesRight(byte[] translated)
    {
        Ipv4Packet.TryParse(translated, out var ip);
        var copy = translated.ToArray();
        PartialChecksum.Finish(copy, 20, ip.Protocol == IpProtocol.Tcp ? 16 : 6, ip.Protocol == IpProtocol.Udp);
        Ipv4Packet.TryParse(copy, out var finished);
        Assert.True(InternetChecksum.Verify(finished.Payload, InternetChecksum.PseudoHeaderSum(finished.Source, finished.Destination, finished.ProtocolNumber, finished.Payload.Length)));
    }

    [Fact]
    public void Offload_an_unfinished_checksum_is_readdressed_both_ways_so_the_kernel_finishes_it_right()
    {
        using var bench = new Bench(offload: true);
        var (syn, synHeader) = Unfinished(Ipv4PacketBuilder.Tcp(Client, 40000, Server, 80, [], TcpFlags.Syn));
        var mapped = Assert.Single(bench.Through(syn, fromInside: true, synHeader));
        AssertFinishesRight(mapped);

        var (reply, replyHeader) = Unfinished(Ipv4PacketBuilder.Tcp(Server, 80, Public, SourcePort(mapped), new byte[100], TcpFlags.Syn | TcpFlags.Ack));
        var back = Assert.Single(bench.Through(reply, fromInside: false, replyHeader));
        AssertFinishesRight(back);
        Ipv4Packet.TryParse(back, out var ip);
        Assert.Equal(Client, ip.Destination);
        Assert.Equal(40000, ip.Tcp.DestinationPort);
    }

    [Fact]
    public void Offload_a_segment_train_beyond_the_mtu_goes_through_whole_with_its_header()
    {
        using var bench = new Bench(offload: true);
        var (train, header) = Unfinished(Ipv4PacketBuilder.Tcp(Client, 40000, Server, 80, new byte[20_000], TcpFlags.Ack, dontFragment: true), segmentSize: 1448);
        bench.Inside.Inject([.. header, .. train]);
        bench.Router.RunOnce(fromInside: true, 0);

        var frame = bench.Outside.TakeWritten();

        Assert.NotNull(frame);
        Assert.Equal(header, frame[..VirtioNetHeader.Length]);
        Assert.Equal(train.Length, frame.Length - VirtioNetHeader.Length);
        AssertFinishesRight(frame[VirtioNetHeader.Length..]);
        Assert.Empty(bench.Drain(bench.Inside)); // no Fragmentation Needed for a train
    }

    [Fact]
    public void Offload_an_unfinished_checksum_is_finished_before_the_router_fragments()
    {
        using var bench = new Bench(offload: true);
        var (datagram, header) = Unfinished(Ipv4PacketBuilder.Udp(Client, 5000, Server, 53, Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray()));

        var fragments = bench.Through(datagram, fromInside: true, header);

        Assert.Equal(3, fragments.Count);
        var reassembler = new NatFramework.Fragmentation.Ipv4Reassembler();
        var whole = new byte[65535];
        NatFramework.Fragmentation.ReassemblyResult result = default;
        foreach (var fragment in fragments)
        {
            Ipv4Packet.TryParse(fragment, out var ip);
            result = reassembler.Add(ip, whole);
        }
        Assert.Equal(NatFramework.Fragmentation.ReassemblyStatus.Complete, result.Status);
        Ipv4Packet.TryParse(whole.AsSpan(0, result.Length), out var reassembled);
        Assert.True(InternetChecksum.Verify(reassembled.Payload, InternetChecksum.PseudoHeaderSum(reassembled.Source, reassembled.Destination, 17, reassembled.Payload.Length)));
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("litedb")]
    [InlineData("redis")]
    public void The_warm_up_runs_through_a_throwaway_store_of_the_chosen_kind_and_leaves_nothing(string store)
    {
        Skip.If(store == "redis" && !NatFramework.Stores.Redis.Tests.RedisServer.IsInstalled, "redis-server is not installed (bash tests/run.sh installs it)");
        using var redis = store == "redis" ? new NatFramework.Stores.Redis.Tests.RedisServer() : null;
        var options = new NatOptions { PublicAddress = Public };
        string? folder;
        using (var warmUp = StoreChoice.ForWarmUp(store, options, redis?.Configuration ?? "", TimeSpan.FromSeconds(2)))
        {
            Assert.True(RouterWarmUp.Run(new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24")), offload: true, warmUp.Translator) >= 18);
            folder = Directory.GetDirectories(Path.GetTempPath(), "natrouter-warmup-*").FirstOrDefault();
        }

        if (store == "litedb")
        {
            Assert.NotNull(folder);
            Assert.False(Directory.Exists(folder));
        }
        if (redis is not null)
        {
            using var check = StackExchange.Redis.ConnectionMultiplexer.Connect(redis.Configuration);
            Assert.Empty(check.GetServer(check.GetEndPoints()[0]).Keys(pattern: "*"));
        }
    }

    [Fact]
    public void The_warm_up_conversation_comes_through()
    {
        Assert.True(RouterWarmUp.Run(new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24")), offload: true) >= 18);
        Assert.True(RouterWarmUp.Run(new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24")), offload: false) >= 18);
    }
}
