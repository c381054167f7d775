namespace NatFramework;

/// <summary>
/// The default table sizes, in one place: <see cref="NatOptions"/> and every bounded store's options start from these,
/// so a translator and its store agree unless told otherwise. They suit a home or small-office router.
/// </summary>
public static class NatDefaults
{
    /// <summary>TCP connections a table holds by default (65,536).</summary>
    public const int TcpCapacity = 65_536;

    /// <summary>UDP flows a table holds by default (65,536).</summary>
    public const int UdpCapacity = 65_536;

    /// <summary>ICMP query identifiers a table holds by default (4,096).</summary>
    public const int IcmpCapacity = 4_096;
}
