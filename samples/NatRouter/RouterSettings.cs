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
    /// How long a thread keeps looking for packets after the last one before it sleeps. Busy-polling trades CPU for
    /// latency: on this project's 2-vCPU machine it slowed the harness's connection test (the spinning threads took the
    /// CPU the client and server needed), so the default is 0; a router with cores to spare may want 20-50 µs.
    /// </summary>
    public TimeSpan SpinTime { get; init; }

    /// <summary>The router's own address on the inside (the network's first host), used as the source of its ICMP errors there.</summary>
    public Ipv4Address PrivateAddress => new(PrivateNetwork.Network.Value + 1);
}
