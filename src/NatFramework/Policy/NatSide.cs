namespace NatFramework;

/// <summary>Which side of the NAT a packet arrived on, when the host knows (a router does: each interface is one side).</summary>
public enum NatSide : byte
{
    /// <summary>Not said: the policy goes by addresses alone (a source in an inside network is inside).</summary>
    Unknown = 0,
    /// <summary>From the inside network: only source-NAT rules create connections, and only for sources in their inside networks.</summary>
    Inside = 1,
    /// <summary>From outside: only port forwards create connections; a source in an inside network is refused as spoofed.</summary>
    Outside = 2,
}
