namespace NatFramework.Stores.Lru;

/// <summary>
/// Capacities of an <see cref="LruNatStore"/>. Memory is allocated up front: about 80 bytes per connection of
/// capacity (both directions, host index and recency included). The defaults are <see cref="NatDefaults"/>': 65,536 TCP,
/// 65,536 UDP and 4,096 ICMP connections, about 11 MiB in all.
/// </summary>
public sealed class LruStoreOptions
{
    /// <summary>The most TCP connections held; beyond it the least recently used is evicted.</summary>
    public int TcpCapacity { get; set; } = NatDefaults.TcpCapacity;

    /// <summary>The most UDP connections held.</summary>
    public int UdpCapacity { get; set; } = NatDefaults.UdpCapacity;

    /// <summary>The most ICMP query connections held.</summary>
    public int IcmpCapacity { get; set; } = NatDefaults.IcmpCapacity;

    /// <summary>The largest capacity of one protocol's table (2^23 connections): slot indexes are 24 bits.</summary>
    public const int MaxCapacity = 1 << 23;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the capacity to fix.</summary>
    public void Validate()
    {
        Check(TcpCapacity, nameof(TcpCapacity));
        Check(UdpCapacity, nameof(UdpCapacity));
        Check(IcmpCapacity, nameof(IcmpCapacity));
    }

    private static void Check(int value, string name)
    {
        if (value is < 1 or > MaxCapacity)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between 1 and {MaxCapacity:N0} connections.");
    }

    /// <summary>Capacities taken from <see cref="NatOptions"/>.</summary>
    /// <param name="options">The settings.</param>
    /// <returns>Options with the capacities of <paramref name="options"/>.</returns>
    public static LruStoreOptions From(NatOptions options) => new()
    {
        TcpCapacity = options.TcpCapacity,
        UdpCapacity = options.UdpCapacity,
        IcmpCapacity = options.IcmpCapacity,
    };
}
