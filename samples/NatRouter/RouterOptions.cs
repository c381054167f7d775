using NatFramework;

namespace NatRouter;

/// <summary>Everything <c>NatRouter run</c> is told on its command line.</summary>
public sealed record RouterOptions
{
    /// <summary>The inside TUN interface.</summary>
    public required string PrivateTun { get; init; }

    /// <summary>The outside TUN interface.</summary>
    public required string PublicTun { get; init; }

    /// <summary>The network namespace (under /var/run/netns) where the inside interface is, when it was prepared there.</summary>
    public string? PrivateNetns { get; init; }

    /// <summary>The network namespace where the outside interface is, when it was prepared there.</summary>
    public string? PublicNetns { get; init; }

    /// <summary>The address inside hosts are translated to.</summary>
    public required Ipv4Address PublicAddress { get; init; }

    /// <summary>The inside network; only its hosts open connections.</summary>
    public required Ipv4Prefix PrivateNetwork { get; init; }

    /// <summary>The MTU of both interfaces.</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>Port forwards from the public address to inside hosts.</summary>
    public IReadOnlyList<ForwardRule> Forwards { get; init; } = [];

    /// <summary>lru, redis or litedb.</summary>
    public string Store { get; init; } = "lru";

    /// <summary>The Redis connection string (StackExchange.Redis syntax).</summary>
    public string Redis { get; init; } = "127.0.0.1:6379";

    /// <summary>How long a Redis operation may take before the store counts as unavailable.</summary>
    public TimeSpan RedisTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The LiteDB table file.</summary>
    public string LiteDb { get; init; } = "nat.db";

    /// <summary>TUN offloads: 64 KiB TCP segment trains and unfinished checksums, cut and finished by the kernel.</summary>
    public bool Offload { get; init; } = true;

    /// <summary>The NAT's settings: timeouts and capacities (the public address is set from <see cref="PublicAddress"/>).</summary>
    public NatOptions Nat { get; init; } = new();

    /// <summary>How often the one-line summary is logged.</summary>
    public TimeSpan SummaryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Busy-polling after the last packet (see <see cref="RouterSettings.SpinTime"/>).</summary>
    public TimeSpan SpinTime { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Reading threads: 2 (one per interface) or 1.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>What the packet path needs.</summary>
    public RouterSettings Settings => new(PublicAddress, PrivateNetwork, Mtu, Forwards) { SpinTime = SpinTime, Threads = Threads };
}
