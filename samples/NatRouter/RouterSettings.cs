using NatFramework;

namespace NatRouter;

/// <summary>What a router needs to know about its two sides.</summary>
/// <param name="PublicAddress">The address inside hosts are translated to.</param>
/// <param name="PrivateNetwork">The inside network; only its hosts may open connections.</param>
/// <param name="Mtu">The MTU of both interfaces.</param>
/// <param name="Forwards">Port forwards from the public address to inside hosts.</param>
public sealed record RouterSettings(Ipv4Address PublicAddress, Ipv4Prefix PrivateNetwork, int Mtu = 1500, IReadOnlyList<ForwardRule>? Forwards = null)
{
    /// <summary>
    /// How long a thread keeps polling both interfaces after the last packet before it sleeps (it yields the CPU
    /// between looks, and the other thread parks meanwhile). Busy-polling trades CPU for latency: a sleeping thread
    /// takes ~0.05-0.1 ms to wake on a virtual machine, several times per TCP connection. Measured on the project VM
    /// (2 vCPUs) with the harness's sequential connection test: ~1,850 connections/s without, ~2,400 with 1 ms.
    /// 0 turns it off (an idle-friendly router); the cost is up to one core while traffic trickles.
    /// <see cref="Timeout.InfiniteTimeSpan"/> polls all the time, as poll-mode routers (DPDK, VPP) do: no packet ever
    /// waits for a wake-up, and one core is always busy.
    /// </summary>
    public TimeSpan SpinTime { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Reading threads: 2 (one per interface, the default) or 1 (one thread waits on both).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>The router's own address on the inside (the network's first host), used as the source of its ICMP errors there.</summary>
    public Ipv4Address PrivateAddress => new(PrivateNetwork.Network.Value + 1);

    /// <summary>Per-host connection limits (RFC 6888); 0 for none.</summary>
    public int TcpConnectionsPerHost { get; init; }

    /// <summary>Per-host UDP flow limit; 0 for none.</summary>
    public int UdpConnectionsPerHost { get; init; }

    /// <summary>Per-host ICMP identifier limit; 0 for none.</summary>
    public int IcmpConnectionsPerHost { get; init; }

    /// <summary>How UDP and TCP connections are mapped (RFC 4787 REQ-1; default endpoint-independent).</summary>
    public NatMappingBehavior Mapping { get; init; } = NatMappingBehavior.EndpointIndependent;

    /// <summary>Which unsolicited UDP and TCP packets reach a mapping (RFC 4787 REQ-8; default address-dependent).</summary>
    public NatFilteringBehavior Filtering { get; init; } = NatFilteringBehavior.AddressDependent;

    /// <summary>Whether inside hosts reach each other through their public endpoints (RFC 4787 REQ-9; default on).</summary>
    public bool Hairpinning { get; init; } = true;

    /// <summary>
    /// What the router's translator does with new flows: hosts of the private network are translated to the public
    /// address; the port forwards reach their inside targets, from the router's inside address.
    /// </summary>
    public NatPolicy Policy => new()
    {
        SourceNat = [new SourceNatRule(PrivateNetwork, PublicAddress)],
        PortForwards = (Forwards ?? []).Select(f => new PortForwardRule(f.Protocol, PublicAddress, f.PublicPort, f.Target, f.TargetPort, PrivateAddress)).ToList(),
        TcpConnectionsPerHost = TcpConnectionsPerHost,
        UdpConnectionsPerHost = UdpConnectionsPerHost,
        IcmpConnectionsPerHost = IcmpConnectionsPerHost,
        UdpMapping = Mapping,
        TcpMapping = Mapping,
        UdpFiltering = Filtering,
        TcpFiltering = Filtering,
        Hairpinning = Hairpinning,
    };
}
