using NatFramework;

namespace NatRouter.Tests;

/// <summary>
/// The router on AF_XDP ports (<see cref="XdpPort"/>): veth links instead of TUNs, ARP answered and asked by the router.
/// Root only; skipped with the reason when AF_XDP, ethtool or root is missing.
/// </summary>
public sealed class XdpPortTests
{
    private static RouterNetwork Network(string store = "lru", Ipv4Address? publicGateway = null)
    {
        string? reason = RouterNetwork.WhyNotXdp() ?? RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        return new RouterNetwork(store, [new ForwardRule(NatProtocol.Tcp, 8080, Ipv4Address.Parse("10.77.0.2"), 8080)], port: "xdp", publicGateway: publicGateway);
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Ping_http_and_udp_go_through_and_the_router_resolves_and_answers_arp_itself(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Outside, "helper-http-serve", "198.51.100.2", "8000", "2000000");
        network.StartHelper(network.Outside, "helper-udp-echo", "198.51.100.2", "5353");

        var (pingCode, ping) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2");
        var (httpCode, http) = network.Helper(network.Inside, "helper-http-get", "198.51.100.2", "8000", "2000000");
        var (udpCode, udp) = network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "5353", "echo");

        Assert.True(pingCode == 0, $"{ping} (router: {network.Router.Counters})");
        Assert.True(httpCode == 0, $"{http} (router: {network.Router.Counters})");
        Assert.Contains("every byte as sent", http);
        Assert.True(udpCode == 0, $"{udp} (router: {network.Router.Counters})");
        var (inside, outside) = network.XdpPorts;
        // The inside host asked for its gateway 10.77.0.1; the router asked for the server before the first packet out.
        Assert.True(inside.ArpRepliesSent >= 1, $"inside replies {inside.ArpRepliesSent}");
        Assert.True(outside.ArpRequestsSent >= 1, $"outside requests {outside.ArpRequestsSent}");
        Assert.Equal(0, inside.Unresolved + outside.Unresolved);
        Assert.Contains("ttl=63", ping);
    }

    [SkippableFact]
    public void The_router_answers_pings_of_its_addresses_and_forwards_a_port_to_the_inside()
    {
        using var network = Network();
        network.StartHelper(network.Inside, "helper-http-serve", "10.77.0.2", "8080", "500000");

        var (insideCode, inside) = network.In(network.Inside, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.77.0.1");
        var (outsideCode, outside) = network.In(network.Outside, "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.1");
        var (code, output) = network.Helper(network.Outside, "helper-http-get", "198.51.100.1", "8080", "500000");

        Assert.True(insideCode == 0, inside);
        Assert.True(outsideCode == 0, outside);
        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        Assert.Contains("every byte as sent", output);
    }

    [SkippableFact]
    public void Fragments_ttl_expiry_and_icmp_errors_work_on_ethernet_as_on_tun()
    {
        using var network = Network();

        var (fragmentedCode, fragmented) = network.In(network.Inside, "ping", "-c", "2", "-W", "2", "-s", "4000", "198.51.100.2");
        var (_, ttl) = network.In(network.Inside, "ping", "-c", "1", "-W", "2", "-t", "1", "198.51.100.2");
        var (refusedCode, refused) = network.Helper(network.Inside, "helper-udp-send", "198.51.100.2", "9", "refused");

        Assert.True(fragmentedCode == 0, fragmented);
        Assert.Contains("2 received", fragmented);
        Assert.Contains("From 10.77.0.1", ttl);
        Assert.Contains("Time to live exceeded", ttl);
        Assert.True(refusedCode == 0, $"{refused} (router: {network.Router.Counters})");
        Assert.Contains("port unreachable", refused);
    }

    [SkippableFact]
    public void Many_connections_open_at_once_and_two_inside_hosts_reach_each_other_through_the_public_address()
    {
        using var network = Network();
        network.StartHelper(network.Outside, "helper-tcp-echo", "198.51.100.2", "7000");
        network.StartHelper(network.Outside, "helper-udp-whoami", "198.51.100.2", "3478");
        var (manyCode, many) = network.Helper(network.Inside, "helper-tcp-many", "198.51.100.2", "7000", "300");
        var a = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.2", "4000");
        var b = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.3", "5000");
        string publicA = BehaviorTests.PublicEndpointOf(a, "198.51.100.2", 3478);
        string publicB = BehaviorTests.PublicEndpointOf(b, "198.51.100.2", 3478);

        // Hairpinned: out the inside port again, framed for the other inside host's MAC, which the router asks for.
        BehaviorTests.Say(a, $"send 198.51.100.1 {publicB.Split(':')[1]} hello-from-a");

        Assert.True(manyCode == 0, $"{many} (router: {network.Router.Counters})");
        Assert.Contains("300 of 300", many);
        Assert.Equal("hello-from-a", BehaviorTests.Expect(b, $"from {publicA} ", "what b received"));
    }

    [SkippableFact]
    public void Unsolicited_traffic_from_outside_is_dropped_and_counted()
    {
        using var network = Network();

        var (code, _) = network.Helper(network.Outside, "helper-http-get", "198.51.100.1", "9999", "1");

        Assert.NotEqual(0, code);
        Assert.True(network.Router.Counters.Dropped.Values.Sum() > 0, network.Router.Counters.ToString());
    }

    [SkippableFact]
    public void Packets_for_a_neighbor_that_never_answers_are_held_then_dropped_and_counted()
    {
        using var network = Network();

        // 198.51.100.9 is on the outside link's network but nobody has it: the router's ARP requests go unanswered.
        var (code, _) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.3", "-W", "1", "198.51.100.9");
        Thread.Sleep(NeighborTable.HoldTime + TimeSpan.FromMilliseconds(500));
        // The next packet for it finds the held ones expired.
        network.In(network.Inside, "ping", "-c", "1", "-W", "1", "198.51.100.9");

        Assert.NotEqual(0, code);
        var (_, outside) = network.XdpPorts;
        Assert.True(outside.ArpRequestsSent >= 2, $"requests {outside.ArpRequestsSent}");
        Assert.True(outside.Unresolved >= 3, $"unresolved {outside.Unresolved}");
    }

    [SkippableFact]
    public void With_a_public_gateway_every_packet_out_is_framed_for_the_gateway()
    {
        // The gateway 198.51.100.9 does not exist yet: nothing gets out, whatever the destination.
        using var network = Network(publicGateway: Ipv4Address.Parse("198.51.100.9"));
        var (before, _) = network.In(network.Inside, "ping", "-c", "2", "-i", "0.3", "-W", "1", "198.51.100.2");

        // Once the outside host also answers for the gateway's address, frames for the gateway reach it.
        var (added, addOutput) = network.In(network.Outside, "ip", "addr", "add", "198.51.100.9/24", "dev", "nvo" + network.Outside[^6..]);
        var (after, ping) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.51.100.2");

        Assert.NotEqual(0, before);
        Assert.True(added == 0, addOutput);
        Assert.True(after == 0, $"{ping} (router: {network.Router.Counters})");
    }

    [SkippableFact]
    public void A_link_that_goes_down_and_up_again_is_served_again_and_the_refused_sends_are_counted()
    {
        using var network = Network();
        var (code, ping) = network.In(network.Inside, "ping", "-c", "2", "-i", "0.2", "-W", "2", "198.51.100.2");
        Assert.True(code == 0, ping);

        network.In(network.RouterNamespace!, "ip", "link", "set", network.PublicTun, "down");
        var (downCode, _) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.2");
        network.In(network.RouterNamespace!, "ip", "link", "set", network.PublicTun, "up");
        var (upCode, up) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.3", "-W", "2", "198.51.100.2");

        Assert.NotEqual(0, downCode);
        Assert.True(upCode == 0, $"{up} (router: {network.Router.Counters})");
        Assert.True(network.XdpPorts.Outside.SendsDeferred > 0, $"deferred {network.XdpPorts.Outside.SendsDeferred}");
    }

    [SkippableFact]
    public void A_router_on_two_receive_queues_spreads_connections_over_its_lanes_and_every_one_works()
    {
        string? reason = RouterNetwork.WhyNotXdp();
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(port: "xdp", queues: 2);
        LaneTests.AssertConnectionsSpreadOverTwoLanes(network);
    }

    [SkippableFact]
    public void A_missing_interface_is_a_clear_error_and_leaves_nothing_attached()
    {
        string? reason = RouterNetwork.WhyNotXdp();
        Skip.If(reason is not null, reason);

        var error = Assert.Throws<System.ComponentModel.Win32Exception>(() => XdpPort.Open("nosuchif0", Ipv4Address.Parse("10.77.0.1")));

        Assert.Contains("nosuchif0", error.Message);
    }
}
