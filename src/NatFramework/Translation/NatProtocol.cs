namespace NatFramework;

/// <summary>The protocols a NAT table holds connections for. Values are the IP protocol numbers.</summary>
public enum NatProtocol : byte
{
    /// <summary>ICMP queries, keyed by identifier.</summary>
    Icmp = 1,
    /// <summary>TCP.</summary>
    Tcp = 6,
    /// <summary>UDP.</summary>
    Udp = 17,
}
