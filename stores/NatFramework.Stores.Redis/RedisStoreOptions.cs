namespace NatFramework.Stores.Redis;

/// <summary>Settings of a <see cref="RedisNatStore"/>.</summary>
public sealed class RedisStoreOptions
{
    /// <summary>
    /// A StackExchange.Redis configuration string, e.g. <c>127.0.0.1:6379</c> or
    /// <c>redis1:6379,redis2:6379,user=nat,password=secret</c>. Required.
    /// </summary>
    public string Configuration { get; set; } = "";

    /// <summary>
    /// The key prefix. With one shard every key is <c>{prefix}:…</c>: the braces make it a hash tag, so on Redis Cluster
    /// the whole table lives in one slot, on one master (atomic multi-key scripts need one slot). Routers that share a
    /// table use the same prefix. Default <c>nat</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = "nat";

    /// <summary>
    /// How many shards one table is spread over (default 1). Each shard is a hash tag of its own
    /// (<c>{prefix.shard.n}</c>, chosen so that shard i's slot lies in the i-th equal part of the slot space, which the
    /// masters of a cluster made by <c>redis-cli --cluster create</c> own in turn), so on Redis Cluster the table's load and
    /// memory spread over the masters. A source-NAT connection lives in the shard of its inside host (its host limit and
    /// endpoint-independent mapping stay atomic there), a redirect in the shard of the public port it arrived at; the
    /// public port (ICMP: identifier) a new connection takes is one whose remainder modulo the shard count is its shard's
    /// number, so a reply, which names only the public port, is looked for in one place. The price: each inside host and
    /// each forwarded port draws from 1/N of the port range, and a lookup Redis has to answer asks two shards at once.
    /// Each shard is bounded by the capacities (<see cref="TcpCapacity"/>…) on its own, so the table holds up to N times
    /// them: set them to what one shard's master should hold (a host's connections all go to one shard, so dividing them
    /// would bound a busy host by 1/N of the table). Every router on the table must use the same count; the store records
    /// it in Redis and refuses to start with another (checked when the store starts with Redis reachable: a store started
    /// while Redis is down cannot check). At most <see cref="MaxShards"/>.
    /// </summary>
    public int Shards { get; set; } = 1;

    /// <summary>The most shards a table can be spread over.</summary>
    public const int MaxShards = 256;

    /// <summary>How long an operation may wait for Redis before it is reported unavailable (default 250 ms).</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Lookups held in the in-process near cache (default 65,536; 0 disables it).</summary>
    public int NearCacheCapacity { get; set; } = 65_536;

    /// <summary>
    /// How long a near-cache entry is trusted without asking Redis again (default and maximum 1 s). Removals by any
    /// router also reach every near cache at once by pub/sub; this bound covers expiry and lost messages, so a
    /// connection removed or expired anywhere stops being translated everywhere within it.
    /// </summary>
    public TimeSpan NearCacheFreshness { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Replicas that must hold a new connection before its insert is acknowledged (Redis <c>WAIT</c> after the insert
    /// script, on the connection to the master that ran it, within <see cref="OperationTimeout"/>). Default 0: Redis
    /// replicates asynchronously, so a master that dies right after an insert can take the connection with it. With
    /// 1 or more, a connection the translator reported as added survives the master's fail-over to a replica; an insert
    /// the replicas did not confirm in time is reported as the store being unavailable (it may still be on the
    /// master, and is found there by the flow's next packet). At most <see cref="MaxReplicaAcknowledgements"/>.
    /// </summary>
    public int ReplicaAcknowledgements { get; set; }

    /// <summary>The most replica acknowledgements an insert can ask for.</summary>
    public const int MaxReplicaAcknowledgements = 16;

    /// <summary>While Redis is unavailable, keep translating established flows from the near cache (default true).</summary>
    public bool ServeFromNearCacheWhenUnavailable { get; set; } = true;

    /// <summary>
    /// The most TCP connections the shared table holds (default <see cref="NatDefaults.TcpCapacity"/>), counted in Redis
    /// atomically with each insert, across every router on the table; beyond it an add answers <c>TableFull</c>. On a
    /// sharded table (<see cref="Shards"/>) the bound of each shard. Routers sharing a table should use the same capacities.
    /// </summary>
    public int TcpCapacity { get; set; } = NatDefaults.TcpCapacity;

    /// <summary>The most UDP connections the shared table holds (default <see cref="NatDefaults.UdpCapacity"/>).</summary>
    public int UdpCapacity { get; set; } = NatDefaults.UdpCapacity;

    /// <summary>The most ICMP query connections the shared table holds (default <see cref="NatDefaults.IcmpCapacity"/>).</summary>
    public int IcmpCapacity { get; set; } = NatDefaults.IcmpCapacity;

    /// <summary>The capacity for <paramref name="protocol"/>.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The capacity.</returns>
    public int CapacityFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => TcpCapacity,
        NatProtocol.Udp => UdpCapacity,
        _ => IcmpCapacity,
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting to fix.</summary>
    /// <exception cref="ArgumentException">A setting is missing, does not parse or is out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Configuration))
            throw new ArgumentException("Configuration is required: a StackExchange.Redis connection string such as 127.0.0.1:6379.", nameof(Configuration));
        StackExchange.Redis.ConfigurationOptions parsed;
        try
        {
            parsed = StackExchange.Redis.ConfigurationOptions.Parse(Configuration);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Configuration '{Configuration}' is not a StackExchange.Redis connection string ({e.Message}); write it like 127.0.0.1:6379,password=secret.", nameof(Configuration), e);
        }
        if (parsed.EndPoints.Count == 0)
            throw new ArgumentException($"Configuration '{Configuration}' names no Redis server; write it like 127.0.0.1:6379,password=secret.", nameof(Configuration));
        // StackExchange.Redis takes any word it does not know as a host name: "…,password" (no value) would silently be a
        // second server called "password".
        foreach (var endpoint in parsed.EndPoints)
        {
            if (endpoint is not System.Net.DnsEndPoint named) continue;
            if (OptionWords.Contains(named.Host))
                throw new ArgumentException($"Configuration '{Configuration}' has '{named.Host}' without a value; write it as {named.Host}=….", nameof(Configuration));
            if (Uri.CheckHostName(named.Host) != UriHostNameType.Dns)
                throw new ArgumentException($"Configuration '{Configuration}' names '{named.Host}', which is not a host name or address; write servers as host:port.", nameof(Configuration));
        }
        if (string.IsNullOrWhiteSpace(KeyPrefix) || KeyPrefix.IndexOfAny(['{', '}']) >= 0)
            throw new ArgumentException("KeyPrefix must be non-empty and contain no braces (the store adds the hash-tag braces itself).", nameof(KeyPrefix));
        if (Shards is < 1 or > MaxShards)
            throw new ArgumentOutOfRangeException(nameof(Shards), Shards, $"Shards must be 1 (the whole table under one hash tag) to {MaxShards}.");
        if (OperationTimeout <= TimeSpan.Zero || OperationTimeout > TimeSpan.FromSeconds(30))
            throw new ArgumentOutOfRangeException(nameof(OperationTimeout), OperationTimeout, "OperationTimeout must be positive and at most 30 s.");
        if (NearCacheCapacity < 0)
            throw new ArgumentOutOfRangeException(nameof(NearCacheCapacity), NearCacheCapacity, "NearCacheCapacity must be 0 (off) or more.");
        if (NearCacheFreshness <= TimeSpan.Zero || NearCacheFreshness > TimeSpan.FromSeconds(1))
            throw new ArgumentOutOfRangeException(nameof(NearCacheFreshness), NearCacheFreshness, "NearCacheFreshness must be positive and at most 1 s (the documented invalidation bound).");
        if (ReplicaAcknowledgements is < 0 or > MaxReplicaAcknowledgements)
            throw new ArgumentOutOfRangeException(nameof(ReplicaAcknowledgements), ReplicaAcknowledgements,
                $"ReplicaAcknowledgements must be 0 (no wait) to {MaxReplicaAcknowledgements}.");
        CheckCapacity(TcpCapacity, nameof(TcpCapacity));
        CheckCapacity(UdpCapacity, nameof(UdpCapacity));
        CheckCapacity(IcmpCapacity, nameof(IcmpCapacity));
    }

    private static readonly HashSet<string> OptionWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "password", "user", "ssl", "sslHost", "abortConnect", "allowAdmin", "name", "clientName", "serviceName", "connectTimeout",
        "syncTimeout", "asyncTimeout", "connectRetry", "keepAlive", "defaultDatabase", "protocol", "tiebreaker", "version",
    };

    private static void CheckCapacity(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }
}
