namespace NatFramework;

/// <summary>
/// What a store can tell about its table (<see cref="INatStoreStatistics"/>, <see cref="IAsyncNatStoreStatistics"/>): live
/// connections per protocol, and how many it evicted to make room or reclaimed because they expired. The library's meter
/// publishes them (<c>natframework.connections.active</c>, <c>.evicted</c>, <c>.expired</c>).
/// </summary>
/// <param name="Tcp">TCP connections in the table.</param>
/// <param name="Udp">UDP connections in the table.</param>
/// <param name="Icmp">ICMP query connections in the table.</param>
public readonly record struct NatStoreStatistics(long Tcp, long Udp, long Icmp)
{
    /// <summary>
    /// Live connections this store removed to make room for new ones since it was opened; <c>null</c> when the store does
    /// not count them.
    /// </summary>
    public long? Evicted { get; init; }

    /// <summary>
    /// Idle connections this store reclaimed because they expired since it was opened; <c>null</c> when the store cannot
    /// tell (a store whose server expires keys by itself).
    /// </summary>
    public long? Expired { get; init; }

    /// <summary>Connections of <paramref name="protocol"/> in the table.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The count.</returns>
    public long For(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => Tcp,
        NatProtocol.Udp => Udp,
        _ => Icmp,
    };
}
