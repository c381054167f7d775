using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Filtering (RFC 4787 REQ-8, RFC 5382 REQ-3): which unsolicited packets from outside reach an endpoint-independent
// mapping, and open a connection on it.
public abstract partial class NatStoreConformanceTests
{
    /// <summary>Opens 10.77.0.2:40000 → 198.51.100.2:3478 (UDP) under <paramref name="policy"/>; returns the public port.</summary>
    private async Task<(INatTranslator Nat, ushort Port)> MappedAsync(NatPolicy? policy = null, Action<NatOptions>? configure = null)
    {
        var nat = NewPolicyTranslator(policy, configure);
        var (_, bytes) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 3478, 64));
        return (nat, SourcePortOf(bytes));
    }

    private static byte[] ToMapping(string source, ushort sourcePort, ushort publicPort)
        => Transport(NatProtocol.Udp, source, sourcePort, "198.51.100.1", publicPort, 64);

    [Fact]
    public async Task By_default_only_addresses_the_endpoint_sent_to_reach_its_mapping()
    {
        var (nat, port) = await MappedAsync();

        // Another port of the same server: let in, on the same mapping, as a connection of its own.
        var (result, bytes) = await Translated(nat, ToMapping("198.51.100.2", 3479, port), NatSide.Outside);
        Assert.True(result.Created);
        Assert.Equal(FlowDirection.Reply, result.Direction);
        Assert.Equal(Convert.ToHexString(Transport(NatProtocol.Udp, "198.51.100.2", 3479, "10.77.0.2", 40000, 63)), Convert.ToHexString(bytes));
        // Its answer leaves through the mapping's public endpoint.
        var (_, answer) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 3479, 64));
        Assert.Equal(port, SourcePortOf(answer));

        // An address the endpoint never sent to is kept out, and the packet is left as it was.
        await AssertUntranslated(nat, ToMapping("198.51.100.9", 3478, port), UntranslatedReason.Filtered, NatSide.Outside);
    }

    [Fact]
    public async Task With_endpoint_independent_filtering_anyone_reaches_a_live_mapping()
    {
        var (nat, port) = await MappedAsync(RouterPolicy with { UdpFiltering = NatFilteringBehavior.EndpointIndependent });

        var (result, bytes) = await Translated(nat, ToMapping("198.51.100.9", 5000, port));

        Assert.True(result.Created);
        Assert.Equal(Convert.ToHexString(Transport(NatProtocol.Udp, "198.51.100.9", 5000, "10.77.0.2", 40000, 63)), Convert.ToHexString(bytes));
        // No mapping, nothing to reach.
        await AssertUntranslated(nat, ToMapping("198.51.100.9", 5000, (ushort)(port == 65535 ? 1024 : port + 1)));
    }

    [Fact]
    public async Task With_address_and_port_dependent_filtering_nothing_unsolicited_gets_in()
    {
        var (nat, port) = await MappedAsync(RouterPolicy with { UdpFiltering = NatFilteringBehavior.AddressAndPortDependent });

        await AssertUntranslated(nat, ToMapping("198.51.100.2", 3479, port));
        await Translated(nat, ToMapping("198.51.100.2", 3478, port)); // the reply itself, of course
    }

    [Fact]
    public async Task A_tcp_syn_from_an_address_the_endpoint_sent_to_opens_a_connection_on_its_mapping()
    {
        var nat = NewPolicyTranslator();
        var (_, syn) = await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 5000, TcpFlags.Syn));
        ushort port = SourcePortOf(syn);

        // A simultaneous open from another port of the peer (TCP hole punching), and one from a stranger.
        var (result, bytes) = await Translated(nat, Segment("198.51.100.2", 5001, "198.51.100.1", port, TcpFlags.Syn), NatSide.Outside);
        await AssertUntranslated(nat, Segment("198.51.100.7", 5001, "198.51.100.1", port, TcpFlags.Syn), UntranslatedReason.Filtered, NatSide.Outside);

        Assert.True(result.Created);
        Assert.Equal(Convert.ToHexString(Segment("198.51.100.2", 5001, "10.77.0.2", 40000, TcpFlags.Syn, 63)), Convert.ToHexString(bytes));
        var (_, synAck) = await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 5001, TcpFlags.Syn | TcpFlags.Ack));
        Assert.Equal(port, SourcePortOf(synAck));
    }

    [Fact]
    public async Task A_connection_let_in_counts_toward_the_inside_hosts_quota()
    {
        var (nat, port) = await MappedAsync(RouterPolicy with { UdpFiltering = NatFilteringBehavior.EndpointIndependent, UdpConnectionsPerHost = 2 });

        await Translated(nat, ToMapping("198.51.100.9", 5000, port));

        await AssertUntranslated(nat, ToMapping("198.51.100.9", 5001, port), UntranslatedReason.QuotaExceeded);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task By_default_only_outbound_packets_keep_a_udp_flow_alive()
    {
        var (nat, port) = await MappedAsync();
        var reply = ToMapping("198.51.100.2", 3478, port);
        for (int i = 0; i < 2; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(140));
            await Translated(nat, reply);
        }

        Clock.Advance(TimeSpan.FromSeconds(30)); // 310 s since the last outbound packet

        await AssertUntranslated(nat, reply, UntranslatedReason.NoConnection);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task With_inbound_refresh_replies_keep_a_udp_flow_alive()
    {
        var (nat, port) = await MappedAsync(RouterPolicy with { UdpInboundRefresh = true });
        var reply = ToMapping("198.51.100.2", 3478, port);
        for (int i = 0; i < 5; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(140));
            await Translated(nat, reply);
        }
    }
}
