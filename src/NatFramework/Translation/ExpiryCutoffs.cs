namespace NatFramework;

/// <summary>
/// The <c>expiredBefore</c> instants at one moment: a connection whose <see cref="NatConnection.LastSeen"/> is below its
/// cutoff is expired. TCP has two, for established and for transitory connections (<see cref="NatConnectionFlags.TcpTransitory"/>).
/// Stores decide expiry with <see cref="IsExpired"/> (or <see cref="For(in NatConnection)"/>), never by protocol alone.
/// </summary>
/// <param name="Tcp">The cutoff of established TCP connections.</param>
/// <param name="TcpTransitory">The cutoff of transitory TCP connections.</param>
/// <param name="Udp">The UDP cutoff.</param>
/// <param name="Icmp">The ICMP cutoff.</param>
public readonly record struct ExpiryCutoffs(long Tcp, long TcpTransitory, long Udp, long Icmp)
{
    /// <summary>
    /// Whether a packet of a UDP flow found by its reply key (from outside) refreshes the flow (RFC 4787 REQ-6: the
    /// policy's <see cref="NatPolicy.UdpInboundRefresh"/>). Stores that refresh connections themselves on lookup
    /// (<see cref="INatRewriteLookup"/>) honour it; true unless set.
    /// </summary>
    public bool UdpRepliesRefresh { get; init; } = true;

    /// <summary>No connection ever expires.</summary>
    public static ExpiryCutoffs Never => s_never;

    private static readonly ExpiryCutoffs s_never = new(long.MinValue, long.MinValue, long.MinValue, long.MinValue);

    /// <summary>One cutoff for every protocol and state (for tests and stores' own maintenance).</summary>
    /// <param name="cutoff">The cutoff.</param>
    /// <returns>The cutoffs.</returns>
    public static ExpiryCutoffs Uniform(long cutoff) => new(cutoff, cutoff, cutoff, cutoff);

    /// <summary>The cutoff of <paramref name="protocol"/>'s established (for TCP) connections.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The cutoff: a connection last seen before it has expired.</returns>
    public long For(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => Tcp,
        NatProtocol.Udp => Udp,
        _ => Icmp,
    };

    /// <summary>The cutoff that applies to <paramref name="connection"/>, by its protocol and TCP state.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns>The cutoff: a connection last seen before it has expired.</returns>
    public long For(in NatConnection connection) => For(connection.Protocol, connection.Flags);

    /// <summary>The cutoff of a connection of <paramref name="protocol"/> with <paramref name="flags"/> (for stores that keep the two apart).</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="flags">The connection's TCP state flags.</param>
    /// <returns>The cutoff: a connection last seen before it has expired.</returns>
    public long For(NatProtocol protocol, NatConnectionFlags flags)
        => (flags & NatConnectionFlags.TcpTransitory) != 0 ? TcpTransitory : For(protocol);

    /// <summary>True when <paramref name="connection"/> is expired under these cutoffs.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns>True when the connection has expired.</returns>
    public bool IsExpired(in NatConnection connection) => connection.LastSeen < For(connection);
}
