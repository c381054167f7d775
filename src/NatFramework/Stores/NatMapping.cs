namespace NatFramework;

/// <summary>
/// A live endpoint-independent mapping found by its public endpoint (<see cref="INatStore.TryFindMapping"/>): which inside
/// endpoint it belongs to, and whether one of its live connections goes to the address asked about (what
/// address-dependent filtering decides by).
/// </summary>
/// <param name="InsideAddress">The inside endpoint's address.</param>
/// <param name="InsidePort">The inside endpoint's port (ICMP: its query identifier).</param>
/// <param name="PublicAddress">The mapping's public address.</param>
/// <param name="PublicPort">The mapping's public port (ICMP: identifier).</param>
/// <param name="SeenRemoteAddress">True when a live connection of the mapping goes to the remote address the query named.</param>
public readonly record struct NatMapping(Ipv4Address InsideAddress, ushort InsidePort, Ipv4Address PublicAddress, ushort PublicPort, bool SeenRemoteAddress)
{
    /// <summary>True for a mapping that was found (<c>default</c> means none).</summary>
    public bool Found => InsideAddress != default || PublicAddress != default;
}
