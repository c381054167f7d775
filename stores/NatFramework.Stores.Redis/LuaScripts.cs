namespace NatFramework.Stores.Redis;

/// <summary>
/// The server-side halves of the store's writes: each runs atomically in Redis, so both directions of a connection,
/// its host-index entry and its place in the protocol's expiry index change together or not at all, whichever router
/// writes. Records and keys are the binary forms of <see cref="RecordCodec"/>; every key carries the table's hash tag, so
/// a script touches one cluster slot.
/// </summary>
/// <remarks>
/// The expiry index of a protocol (<c>{prefix}:e:tcp</c>, <c>:udp</c>, <c>:icmp</c>) is a sorted set of the protocol's
/// connections (member: the outbound key) scored by when their keys expire, in Redis's own clock (<c>TIME</c>, the clock
/// of <c>PX</c> expiry). It makes the table's size countable atomically with an insert, across every router: entries
/// whose keys Redis has expired are dropped from it a few at a time by later inserts.
/// </remarks>
internal static class LuaScripts
{
    // Shared helpers. Lua strings are 1-based: a record is outbound key 1-13, translated key 14-26, last seen 27-34,
    // flags 35, direction 36 (0 outbound, 1 reply). A key is protocol 1, source 2-5, source port 6-7,
    // destination 8-11, destination port 12-13.
    private const string Helpers = """
        local function reply_key(rec)
          local t = string.sub(rec, 14, 26)
          return string.sub(t, 1, 1) .. string.sub(t, 8, 11) .. string.sub(t, 12, 13) .. string.sub(t, 2, 5) .. string.sub(t, 6, 7)
        end
        local function other_key(rec, prefix)
          if string.byte(rec, 36) == 0 then return prefix .. reply_key(rec) end
          return prefix .. string.sub(rec, 1, 13)
        end
        local function inside_host(rec)
          if string.byte(rec, 35) % 2 == 1 then return string.sub(rec, 21, 24) end
          return string.sub(rec, 2, 5)
        end
        local index_names = { [1] = 'icmp', [6] = 'tcp', [17] = 'udp' }
        local function index_key(rec, index_prefix)
          return index_prefix .. index_names[string.byte(rec, 1)]
        end
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        """;

    /// <summary>
    /// KEYS: outbound key, reply key, host set, the protocol's expiry index. ARGV: outbound record, reply record, TTL ms
    /// (0: none), outbound key bytes, capacity. Returns {0, connections of the protocol} inserted, {1, record} outbound key
    /// taken (with the holder), {2} reply key taken, {3, connections} the protocol is at its capacity.
    /// </summary>
    public const string Insert = Helpers + "\n" + """
        local held = redis.call('GET', KEYS[1])
        if held then return {1, held} end
        if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
        local now = now_ms()
        local function forget_expired(limit)
          local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. now, 'LIMIT', 0, limit)
          if #gone > 0 then redis.call('ZREM', KEYS[4], unpack(gone)) end
        end
        forget_expired(64)
        local capacity = tonumber(ARGV[5])
        local count = redis.call('ZCARD', KEYS[4])
        if count >= capacity then
          forget_expired(4096)
          count = redis.call('ZCARD', KEYS[4])
          if count >= capacity then return {3, count} end
        end
        local ttl = tonumber(ARGV[3])
        if ttl > 0 then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
          redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
          redis.call('ZADD', KEYS[4], now + ttl, ARGV[4])
        else
          redis.call('SET', KEYS[1], ARGV[1])
          redis.call('SET', KEYS[2], ARGV[2])
          redis.call('ZADD', KEYS[4], '+inf', ARGV[4])
        end
        redis.call('SADD', KEYS[3], ARGV[4])
        -- The host set lives as long as its longest-lived member could; stale members are skipped on removal.
        if ttl > 0 then
          if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
        else
          redis.call('PERSIST', KEYS[3])
        end
        return {0, redis.call('ZCARD', KEYS[4])}
        """;

    /// <summary>
    /// KEYS: a key of the connection. ARGV: last-seen (8 bytes), TTL ms (0: none), key prefix, expiry-index prefix.
    /// Returns 1 when found.
    /// </summary>
    public const string Touch = Helpers + "\n" + """
        local rec = redis.call('GET', KEYS[1])
        if not rec then return 0 end
        local other = other_key(rec, ARGV[3])
        local ttl = tonumber(ARGV[2])
        for _, key in ipairs({KEYS[1], other}) do
          if redis.call('EXISTS', key) == 1 then
            redis.call('SETRANGE', key, 26, ARGV[1])
            if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
          end
        end
        if ttl > 0 then redis.call('ZADD', index_key(rec, ARGV[4]), 'XX', now_ms() + ttl, string.sub(rec, 1, 13)) end
        return 1
        """;

    /// <summary>KEYS: a key of the connection. ARGV: key prefix, host-set prefix, expiry-index prefix. Returns the removed record or false.</summary>
    public const string Remove = Helpers + "\n" + """
        local rec = redis.call('GET', KEYS[1])
        if not rec then return false end
        redis.call('DEL', KEYS[1], other_key(rec, ARGV[1]))
        redis.call('SREM', ARGV[2] .. inside_host(rec), string.sub(rec, 1, 13))
        redis.call('ZREM', index_key(rec, ARGV[3]), string.sub(rec, 1, 13))
        return rec
        """;

    /// <summary>
    /// KEYS: the host set. ARGV: key prefix, host (4 bytes), chunk size, expiry-index prefix. Removes up to a chunk of the
    /// host's connections, so that a host with very many never blocks Redis for long; returns {members left, records...}.
    /// </summary>
    public const string RemoveHost = Helpers + "\n" + """
        local removed = {0}
        for _, member in ipairs(redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))) do
          local key = ARGV[1] .. member
          local rec = redis.call('GET', key)
          if rec and inside_host(rec) == ARGV[2] then
            redis.call('DEL', key, other_key(rec, ARGV[1]))
            redis.call('ZREM', index_key(rec, ARGV[4]), member)
            table.insert(removed, rec)
          end
        end
        removed[1] = redis.call('SCARD', KEYS[1])
        return removed
        """;

    /// <summary>KEYS: a protocol's expiry index. Returns how many of its connections have not expired.</summary>
    public const string Count = Helpers + "\n" + """
        return redis.call('ZCOUNT', KEYS[1], now_ms(), '+inf')
        """;
}
