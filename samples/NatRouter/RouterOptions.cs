using NatFramework;

namespace NatRouter;

/// <summary>Everything <c>NatRouter run</c> is told on its command line.</summary>
public sealed record RouterOptions
{
    /// <summary>The inside interface: a TUN, or with <see cref="Port"/> xdp an Ethernet interface.</summary>
    public required string PrivateTun { get; init; }

    /// <summary>The outside interface.</summary>
    public required string PublicTun { get; init; }

    /// <summary>
    /// How the router reaches its interfaces: <c>tun</c> (TUN devices it opens or creates) or <c>xdp</c> (existing
    /// Ethernet interfaces, a veth or a NIC, worked through AF_XDP sockets: <see cref="XdpPort"/>).
    /// </summary>
    public string Port { get; init; } = "tun";

    /// <summary>With <see cref="Port"/> xdp: the outside next hop every packet is framed for; null when all destinations are on the link.</summary>
    public Ipv4Address? PublicGateway { get; init; }

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

    /// <summary>How many shards the Redis table is spread over (every router on the table must say the same).</summary>
    public int RedisShards { get; init; } = 1;

    /// <summary>The LiteDB table file.</summary>
    public string LiteDb { get; init; } = "nat.db";

    /// <summary>TUN offloads: 64 KiB TCP segment trains and unfinished checksums, cut and finished by the kernel.</summary>
    public bool Offload { get; init; } = true;

    /// <summary>
    /// NAPI on the TUNs' writes (IFF_NAPI): the kernel queues what the router writes and hands it to the network stack in
    /// batches from the queue's poll, instead of running the receiving stack inside each write.
    /// </summary>
    public bool Napi { get; init; } = true;

    /// <summary>The NAT's settings: timeouts and capacities (the public address is set from <see cref="PublicAddress"/>).</summary>
    public NatOptions Nat { get; init; } = new();

    /// <summary>How often the one-line summary is logged.</summary>
    public TimeSpan SummaryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// When set, the longest CPU wake-up the router asks the machine to allow while it runs (<see cref="CpuLatencyRequest"/>;
    /// zero keeps idle CPUs polling, so a sleeping router wakes in microseconds); null leaves the machine's idle states alone.
    /// </summary>
    public TimeSpan? CpuLatency { get; init; }

    /// <summary>Busy-polling after the last packet (see <see cref="RouterSettings.SpinTime"/>); <see cref="Timeout.InfiniteTimeSpan"/> to poll all the time.</summary>
    public TimeSpan SpinTime { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Reading threads: 2 (one per interface) or 1, with one queue per interface.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Queues per interface (multi-queue TUN, or an Ethernet interface's receive queues with xdp), each pair a lane with its own thread; 1 for a plain TUN.</summary>
    public int Queues { get; init; } = 1;

    /// <summary>The longest poll after traffic that <c>--spin-us</c> takes, short of polling all the time.</summary>
    public static readonly TimeSpan MaxSpinTime = TimeSpan.FromMilliseconds(10);

    /// <summary>The most queues a TUN device takes (the kernel's MAX_TAP_QUEUES).</summary>
    public const int MaxQueues = 256;

    /// <summary>The least the console log shows (default Information; Debug adds the stack traces of start-up failures).</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>TCP connections one inside host may have (RFC 6888 REQ-4); 0 for no limit.</summary>
    public int TcpConnectionsPerHost { get; init; }

    /// <summary>UDP flows one inside host may have; 0 for no limit.</summary>
    public int UdpConnectionsPerHost { get; init; }

    /// <summary>ICMP query identifiers one inside host may have; 0 for no limit.</summary>
    public int IcmpConnectionsPerHost { get; init; }

    /// <summary>How UDP and TCP connections are mapped (<c>--mapping</c>).</summary>
    public NatMappingBehavior Mapping { get; init; } = NatMappingBehavior.EndpointIndependent;

    /// <summary>Which unsolicited UDP and TCP packets reach a mapping (<c>--filtering</c>).</summary>
    public NatFilteringBehavior Filtering { get; init; } = NatFilteringBehavior.AddressDependent;

    /// <summary>Whether inside hosts reach each other through public endpoints (<c>--hairpin</c>).</summary>
    public bool Hairpinning { get; init; } = true;

    /// <summary>
    /// Refuses settings the router cannot run with, before anything is opened, with one line that names the option.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is unusable; the message names the command-line option and says why.</exception>
    public void Validate()
    {
        if (!PublicAddress.IsUnicastRoutable)
            throw new ArgumentException($"--public-ip {PublicAddress} is {PublicAddress.Scope}, not a unicast address inside hosts can be translated to.");
        if (PrivateNetwork.Length is 0 or > 30)
            throw new ArgumentException($"--private-net {PrivateNetwork} must be a network of at least four addresses (/1 to /30): the router takes its first host address.");
        if (PrivateNetwork.Contains(PublicAddress))
            throw new ArgumentException($"--public-ip {PublicAddress} lies inside --private-net {PrivateNetwork}.");
        if (Mtu is < 68 or > 65535)
            throw new ArgumentException($"--mtu {Mtu} must be 68–65535 (68 is IPv4's minimum, RFC 791).");
        if (Queues is < 1 or > MaxQueues)
            throw new ArgumentException($"--queues {Queues} must be 0 (one per core) to {MaxQueues}.");
        if (SpinTime != Timeout.InfiniteTimeSpan && (SpinTime < TimeSpan.Zero || SpinTime > MaxSpinTime))
            throw new ArgumentException($"--spin-us {SpinTime.TotalMicroseconds:F0} must be -1 (poll all the time) or 0 to {MaxSpinTime.TotalMicroseconds:F0}.");
        if (Port is not ("tun" or "xdp"))
            throw new ArgumentException($"--port '{Port}' is not one of tun, xdp.");
        if (Port == "xdp" && Mtu > XdpSocket.MaxFrame - EthernetFrame.HeaderLength)
            throw new ArgumentException($"--mtu {Mtu}: --port xdp takes frames of up to {XdpSocket.MaxFrame} bytes, so an MTU of at most {XdpSocket.MaxFrame - EthernetFrame.HeaderLength}.");
        if (PublicGateway is { } gateway && Port != "xdp")
            throw new ArgumentException($"--public-gateway {gateway} applies to --port xdp (a TUN has no link layer to address a gateway on).");
        if (PublicGateway is { } hop && (!hop.IsUnicastRoutable || PrivateNetwork.Contains(hop) || hop == PublicAddress))
            throw new ArgumentException($"--public-gateway {hop} must be a unicast address outside --private-net, other than --public-ip.");
        if (CpuLatency is { } latency && (latency < TimeSpan.Zero || latency.TotalMicroseconds > CpuLatencyRequest.MaxMicroseconds))
            throw new ArgumentException($"--cpu-latency-us {latency.TotalMicroseconds:F0} must be -1 (leave the CPUs' idle states alone) or 0 to {CpuLatencyRequest.MaxMicroseconds}.");
        if (Store is not ("lru" or "redis" or "litedb"))
            throw new ArgumentException($"--store '{Store}' is not one of lru, redis, litedb.");
        var seen = new HashSet<(NatProtocol, ushort)>();
        foreach (var rule in Forwards)
        {
            if (!PrivateNetwork.Contains(rule.Target) || rule.Target == Settings.PrivateAddress || rule.Target.Value == (PrivateNetwork.Network.Value | ~PrivateNetwork.Mask))
                throw new ArgumentException($"--forward {rule}: the target {rule.Target} is not a host of --private-net {PrivateNetwork} (the router itself is {Settings.PrivateAddress}).");
            if (!seen.Add((rule.Protocol, rule.PublicPort)))
                throw new ArgumentException($"--forward {rule}: {rule.Protocol.ToString().ToLowerInvariant()} port {rule.PublicPort} is forwarded more than once.");
        }
        foreach (var (option, value) in new[] { ("--tcp-timeout", Nat.TcpTimeout), ("--udp-timeout", Nat.UdpTimeout), ("--icmp-timeout", Nat.IcmpTimeout),
                     ("--tcp-transitory-timeout", Nat.TcpTransitoryTimeout) })
            if (value < TimeSpan.FromSeconds(1) || value > TimeSpan.FromDays(7))
                throw new ArgumentException($"{option} {value.TotalSeconds} must be 1–604800 seconds (7 days).");
        foreach (var (option, value) in new[] { ("--tcp-capacity", Nat.TcpCapacity), ("--udp-capacity", Nat.UdpCapacity), ("--icmp-capacity", Nat.IcmpCapacity) })
            if (value is < 1 or > NatFramework.Stores.Lru.LruStoreOptions.MaxCapacity)
                throw new ArgumentException($"{option} {value} must be 1–{NatFramework.Stores.Lru.LruStoreOptions.MaxCapacity}.");
        foreach (var (option, value, capacity) in new[] { ("--tcp-per-host", TcpConnectionsPerHost, Nat.TcpCapacity),
                     ("--udp-per-host", UdpConnectionsPerHost, Nat.UdpCapacity), ("--icmp-per-host", IcmpConnectionsPerHost, Nat.IcmpCapacity) })
            if (value < 0 || value > capacity)
                throw new ArgumentException($"{option} {value} must be 0 (no limit) to the table's capacity, {capacity}.");
        if (Filtering != NatFilteringBehavior.AddressAndPortDependent && Mapping != NatMappingBehavior.EndpointIndependent)
            throw new ArgumentException($"--filtering {Filtering.ToCommandLine()} lets packets in to endpoint-independent mappings; with --mapping {Mapping.ToCommandLine()} use --filtering apd.");
        if (Store != "redis") return;
        try
        {
            new NatFramework.Stores.Redis.RedisStoreOptions { Configuration = Redis, OperationTimeout = RedisTimeout, Shards = RedisShards }.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--redis / --redis-timeout-ms / --redis-shards: {FirstSentence(e)}", e);
        }
    }

    /// <summary>An argument exception's message without the parameter and value lines the runtime appends.</summary>
    private static string FirstSentence(ArgumentException e) => e.Message.Split('\n')[0].Split(" (Parameter '")[0];

    /// <summary>What the packet path needs.</summary>
    public RouterSettings Settings => new(PublicAddress, PrivateNetwork, Mtu, Forwards)
    {
        SpinTime = SpinTime, Threads = Threads,
        TcpConnectionsPerHost = TcpConnectionsPerHost, UdpConnectionsPerHost = UdpConnectionsPerHost, IcmpConnectionsPerHost = IcmpConnectionsPerHost,
        Mapping = Mapping, Filtering = Filtering, Hairpinning = Hairpinning,
    };
}
