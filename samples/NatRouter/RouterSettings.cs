using NatFramework;

namespace NatRouter;

/// <summary>What a router needs to know about its two sides.</summary>
/// <param name="PublicAddress">The address inside hosts are translated to.</param>
/// <param name="PrivateNetwork">The inside network; only its hosts may open connections.</param>
/// <param name="Mtu">The MTU of both interfaces.</param>
/// <param name="Forwards">Port forwards from the public address to inside hosts.</param>
public sealed record RouterSettings(Ipv4Address PublicAddress, Ipv4Prefix PrivateNetwork, int Mtu = 1500, IReadOnlyList<ForwardRule>? Forwards = null)
{
    /// <summary>The router's own address on the inside (the network's first host), used as the source of its ICMP errors there.</summary>
    public Ipv4Address PrivateAddress => new(PrivateNetwork.Network.Value + 1);
}
