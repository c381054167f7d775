namespace NatFramework;

/// <summary>What an IPv4 address is for, per the IANA special-purpose registry (RFC 6890 and its updates).</summary>
public enum AddressScope : byte
{
    /// <summary>An ordinary, globally routable unicast address.</summary>
    Global,
    /// <summary><c>0.0.0.0/8</c>: "this network" (RFC 1122 §3.2.1.3); never a valid flow end.</summary>
    Unspecified,
    /// <summary><c>127.0.0.0/8</c> (RFC 1122).</summary>
    Loopback,
    /// <summary><c>169.254.0.0/16</c> (RFC 3927).</summary>
    LinkLocal,
    /// <summary><c>224.0.0.0/4</c> (RFC 5771).</summary>
    Multicast,
    /// <summary><c>255.255.255.255</c> (RFC 919).</summary>
    LimitedBroadcast,
    /// <summary><c>240.0.0.0/4</c> except the broadcast address (RFC 1112).</summary>
    Reserved,
    /// <summary><c>10.0.0.0/8</c>, <c>172.16.0.0/12</c>, <c>192.168.0.0/16</c> (RFC 1918).</summary>
    Private,
    /// <summary><c>100.64.0.0/10</c>, carrier-grade NAT space (RFC 6598).</summary>
    Shared,
    /// <summary><c>192.0.2.0/24</c>, <c>198.51.100.0/24</c>, <c>203.0.113.0/24</c> (RFC 5737).</summary>
    Documentation,
    /// <summary><c>198.18.0.0/15</c>, benchmarking (RFC 2544).</summary>
    Benchmarking,
}

/// <summary>Classifies addresses into <see cref="AddressScope"/>s.</summary>
public static class AddressScopes
{
    /// <summary>Returns the scope of <paramref name="address"/>.</summary>
    /// <param name="address">The address.</param>
    /// <returns>The scope the address belongs to.</returns>
    public static AddressScope Classify(Ipv4Address address)
    {
        uint v = address.Value;
        switch (v >> 24)
        {
            case 0: return AddressScope.Unspecified;
            case 10: return AddressScope.Private;
            case 127: return AddressScope.Loopback;
        }
        if (v == 0xFFFFFFFF) return AddressScope.LimitedBroadcast;
        if ((v & 0xF0000000) == 0xE0000000) return AddressScope.Multicast;
        if ((v & 0xF0000000) == 0xF0000000) return AddressScope.Reserved;
        if ((v & 0xFFFF0000) == 0xA9FE0000) return AddressScope.LinkLocal;
        if ((v & 0xFFF00000) == 0xAC100000 || (v & 0xFFFF0000) == 0xC0A80000) return AddressScope.Private;
        if ((v & 0xFFC00000) == 0x64400000) return AddressScope.Shared;
        if ((v & 0xFFFFFF00) is 0xC0000200 or 0xC6336400 or 0xCB007100) return AddressScope.Documentation;
        if ((v & 0xFFFE0000) == 0xC6120000) return AddressScope.Benchmarking;
        return AddressScope.Global;
    }

    /// <summary>
    /// True for scopes whose addresses may be the source or destination of a translated flow.
    /// Documentation and benchmarking ranges count: they are unicast and used by test networks.
    /// </summary>
    /// <param name="scope">The address scope.</param>
    /// <returns>True for global and private unicast scopes.</returns>
    public static bool IsUnicastRoutable(AddressScope scope) => scope is AddressScope.Global or AddressScope.Private
        or AddressScope.Shared or AddressScope.Documentation or AddressScope.Benchmarking;
}
