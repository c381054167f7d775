namespace NatFramework;

/// <summary>
/// A port forward (destination NAT, a Redirect): a new flow to <see cref="PublicAddress"/>:<see cref="PublicPort"/> reaches
/// <see cref="Target"/>:<see cref="TargetPort"/>. As in mirage-nat, the forwarded packets also get a new source,
/// <see cref="SourceAddress"/> (usually the NAT's own inside address) with a port the allocator picks, so the target's
/// answers come back through the NAT whatever its routes.
/// </summary>
/// <param name="Protocol">TCP or UDP.</param>
/// <param name="PublicAddress">The address the forward listens on.</param>
/// <param name="PublicPort">The port it listens on.</param>
/// <param name="Target">The inside host that serves it.</param>
/// <param name="TargetPort">The port on that host.</param>
/// <param name="SourceAddress">The source address forwarded packets get.</param>
public sealed record PortForwardRule(NatProtocol Protocol, Ipv4Address PublicAddress, ushort PublicPort, Ipv4Address Target, ushort TargetPort, Ipv4Address SourceAddress)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()} {PublicAddress}:{PublicPort} -> {Target}:{TargetPort} (from {SourceAddress})";
}
