namespace NatFramework;

/// <summary>
/// The <c>expiredBefore</c> instant of each protocol at one moment: a connection whose
/// <see cref="NatConnection.LastSeen"/> is below its protocol's cutoff is expired.
/// </summary>
/// <param name="Tcp">The TCP cutoff.</param>
/// <param name="Udp">The UDP cutoff.</param>
/// <param name="Icmp">The ICMP cutoff.</param>
public readonly record struct ExpiryCutoffs(long Tcp, long Udp, long Icmp)
{
    /// <summary>No connection ever expires.</summary>
    public static ExpiryCutoffs Never => new(long.MinValue, long.MinValue, long.MinValue);

    /// <summary>The cutoff of <paramref name="protocol"/>.</summary>
    public long For(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => Tcp,
        NatProtocol.Udp => Udp,
        _ => Icmp,
    };

    /// <summary>True when <paramref name="connection"/> is expired under these cutoffs.</summary>
    public bool IsExpired(in NatConnection connection) => connection.LastSeen < For(connection.Protocol);
}
