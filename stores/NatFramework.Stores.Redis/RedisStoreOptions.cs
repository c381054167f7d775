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
    /// The key prefix. Every key is <c>{prefix}:…</c>: the braces make it a hash tag, so on Redis Cluster the whole
    /// table lives in one slot (one shard serves one NAT table; atomic multi-key scripts need that). Routers that
    /// share a table use the same prefix. Default <c>nat</c>.
    /// </summary>
    public string KeyPrefix { get; set; } = "nat";

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

    /// <summary>While Redis is unavailable, keep translating established flows from the near cache (default true).</summary>
    public bool ServeFromNearCacheWhenUnavailable { get; set; } = true;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting to fix.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Configuration))
            throw new ArgumentException("Configuration is required: a StackExchange.Redis connection string such as 127.0.0.1:6379.", nameof(Configuration));
        if (string.IsNullOrWhiteSpace(KeyPrefix) || KeyPrefix.IndexOfAny(['{', '}']) >= 0)
            throw new ArgumentException("KeyPrefix must be non-empty and contain no braces (the store adds the hash-tag braces itself).", nameof(KeyPrefix));
        if (OperationTimeout <= TimeSpan.Zero || OperationTimeout > TimeSpan.FromSeconds(30))
            throw new ArgumentOutOfRangeException(nameof(OperationTimeout), OperationTimeout, "OperationTimeout must be positive and at most 30 s.");
        if (NearCacheCapacity < 0)
            throw new ArgumentOutOfRangeException(nameof(NearCacheCapacity), NearCacheCapacity, "NearCacheCapacity must be 0 (off) or more.");
        if (NearCacheFreshness <= TimeSpan.Zero || NearCacheFreshness > TimeSpan.FromSeconds(1))
            throw new ArgumentOutOfRangeException(nameof(NearCacheFreshness), NearCacheFreshness, "NearCacheFreshness must be positive and at most 1 s (the documented invalidation bound).");
    }
}
