using System.Diagnostics;
using NatFramework;

namespace NatRouter.Tests;

/// <summary>
/// RFC 4787/5382 behaviour through the router, with real sockets on each store: endpoint-independent mapping (what a
/// STUN server sees), filtering of unsolicited packets, and hairpinning between two inside hosts. Root only.
/// </summary>
public sealed class BehaviorTests
{
    private static RouterNetwork Network(string store, NatFilteringBehavior filtering = NatFilteringBehavior.AddressDependent, bool preservePorts = false)
    {
        string? reason = RouterNetwork.WhyNot(store);
        Skip.If(reason is not null, reason);
        return new RouterNetwork(store, nat: new NatOptions { PreservePorts = preservePorts }, filtering: filtering);
    }

    internal static void Say(Process helper, string line)
    {
        helper.StandardInput.WriteLine(line);
        helper.StandardInput.Flush();
    }

    /// <summary>The next line a peer prints, which must start with <paramref name="prefix"/>; the rest of it.</summary>
    internal static string Expect(Process helper, string prefix, string what)
    {
        var line = RouterNetwork.ReadLine(helper, TimeSpan.FromSeconds(10));
        Assert.True(line is not null && line.StartsWith(prefix, StringComparison.Ordinal), $"{what}: expected '{prefix}…', got '{line}'");
        return line![prefix.Length..];
    }

    /// <summary>Asks the whoami server at <paramref name="server"/> which endpoint the peer's datagrams come from.</summary>
    internal static string PublicEndpointOf(Process peer, string server, int port)
    {
        Say(peer, $"send {server} {port} who");
        return Expect(peer, $"from {server}:{port} ", $"the answer of {server}:{port}");
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void One_udp_socket_reaches_two_servers_through_one_public_port_though_another_host_took_its_port_first(string store)
    {
        using var network = Network(store, preservePorts: true);
        network.StartHelper(network.Outside, "helper-udp-whoami", "198.51.100.2", "3478");
        network.StartHelper(network.Outside, "helper-udp-whoami", "198.51.100.3", "3479");
        var other = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.3", "40000");
        var peer = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.2", "40000");

        // The other host's socket is first: with port preservation, public port 40000 is its.
        Assert.Equal("198.51.100.1:40000", PublicEndpointOf(other, "198.51.100.2", 3478));
        string first = PublicEndpointOf(peer, "198.51.100.2", 3478);
        string second = PublicEndpointOf(peer, "198.51.100.3", 3479);

        Assert.NotEqual("198.51.100.1:40000", first);
        Assert.Equal(first, second);
    }

    [SkippableTheory]
    [InlineData("lru", NatFilteringBehavior.EndpointIndependent)]
    [InlineData("lru", NatFilteringBehavior.AddressDependent)]
    [InlineData("redis", NatFilteringBehavior.EndpointIndependent)]
    [InlineData("redis", NatFilteringBehavior.AddressDependent)]
    [InlineData("litedb", NatFilteringBehavior.EndpointIndependent)]
    [InlineData("litedb", NatFilteringBehavior.AddressDependent)]
    public void A_third_host_reaches_a_mapping_only_with_endpoint_independent_filtering(string store, NatFilteringBehavior filtering)
    {
        using var network = Network(store, filtering);
        network.StartHelper(network.Outside, "helper-udp-whoami", "198.51.100.2", "3478");
        var peer = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.2", "40000");
        string mapped = PublicEndpointOf(peer, "198.51.100.2", 3478);
        string port = mapped.Split(':')[1];

        var (code, output) = network.Helper(network.Outside, "helper-udp-send-from", "198.51.100.4", "198.51.100.1", port, "stranger");
        Assert.True(code == 0, output);

        var line = RouterNetwork.ReadLine(peer, TimeSpan.FromSeconds(filtering == NatFilteringBehavior.EndpointIndependent ? 10 : 2));
        if (filtering == NatFilteringBehavior.EndpointIndependent)
        {
            Assert.True(line is not null && line.StartsWith("from 198.51.100.4:", StringComparison.Ordinal) && line.EndsWith(" stranger", StringComparison.Ordinal),
                $"{line} (router: {network.Router.Counters})");
        }
        else
        {
            Assert.Null(line);
            Assert.True(network.Router.Counters.Dropped.TryGetValue("filtered", out long filtered) && filtered >= 1, network.Router.Counters.ToString());
        }
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Two_inside_hosts_exchange_udp_through_the_public_address_each_seeing_the_others_public_endpoint(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Outside, "helper-udp-whoami", "198.51.100.2", "3478");
        var a = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.2", "4000");
        var b = network.StartHelper(network.Inside, "helper-udp-peer", "10.77.0.3", "5000");
        string publicA = PublicEndpointOf(a, "198.51.100.2", 3478);
        string publicB = PublicEndpointOf(b, "198.51.100.2", 3478);

        Say(a, $"send 198.51.100.1 {publicB.Split(':')[1]} hello-from-a");
        Assert.Equal("hello-from-a", Expect(b, $"from {publicA} ", "what b received"));
        Say(b, $"send 198.51.100.1 {publicA.Split(':')[1]} hello-from-b");
        Assert.Equal("hello-from-b", Expect(a, $"from {publicB} ", "what a received"));
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("redis")]
    [InlineData("litedb")]
    public void Two_inside_hosts_connect_over_tcp_through_the_public_address_each_seeing_the_others_public_endpoint(string store)
    {
        using var network = Network(store);
        network.StartHelper(network.Outside, "helper-tcp-whoami", "198.51.100.2", "3480");
        var b = network.StartHelper(network.Inside, "helper-tcp-peer", "10.77.0.3", "6000", "198.51.100.2", "3480");
        string publicB = Expect(b, "mapped ", "b's public endpoint");

        var (code, output) = network.Helper(network.Inside, "helper-tcp-peer", "10.77.0.2", "6001", "198.51.100.2", "3480",
            "198.51.100.1", publicB.Split(':')[1]);

        Assert.True(code == 0, $"{output} (router: {network.Router.Counters})");
        string publicA = output.Split('\n').Single(l => l.StartsWith("mapped ", StringComparison.Ordinal))["mapped ".Length..].Trim();
        // b saw the connection come from a's public endpoint, and told a so.
        Assert.Contains($"answer {publicA}", output);
        Assert.Equal(publicA, Expect(b, "accepted from ", "whom b accepted"));
        Assert.StartsWith("198.51.100.1:", publicA);
        Assert.NotEqual(publicA, publicB);
    }
}
