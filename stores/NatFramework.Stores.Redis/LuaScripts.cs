namespace NatFramework.Stores.Redis;

/// <summary>
/// The server-side halves of the store's writes: each runs atomically in Redis, so both directions of a connection
/// and its host-index entry change together or not at all, whichever router writes. Records and keys are the binary
/// forms of <see cref="RecordCodec"/>; every key carries the table's hash tag, so a script touches one cluster slot.
/// </summary>
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
        """;

    /// <summary>
    /// KEYS: outbound key, reply key, host set. ARGV: outbound record, reply record, TTL ms (0: none), outbound key bytes.
    /// Returns {0} inserted, {1, record} outbound key taken (with the holder), {2} reply key taken.
    /// </summary>
    public const string Insert = """
        local held = redis.call('GET', KEYS[1])
        if held then return {1, held} end
        if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
        local ttl = tonumber(ARGV[3])
        if ttl > 0 then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
          redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
        else
          redis.call('SET', KEYS[1], ARGV[1])
          redis.call('SET', KEYS[2], ARGV[2])
        end
        redis.call('SADD', KEYS[3], ARGV[4])
        -- The host set lives as long as its longest-lived member could; stale members are skipped on removal.
        if ttl > 0 then
          if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
        else
          redis.call('PERSIST', KEYS[3])
        end
        return {0}
        """;

    /// <summary>KEYS: a key of the connection. ARGV: last-seen (8 bytes), TTL ms (0: none), key prefix. Returns 1 when found.</summary>
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
        return 1
        """;

    /// <summary>KEYS: a key of the connection. ARGV: key prefix, host-set prefix. Returns the removed record or false.</summary>
    public const string Remove = Helpers + "\n" + """
        local rec = redis.call('GET', KEYS[1])
        if not rec then return false end
        redis.call('DEL', KEYS[1], other_key(rec, ARGV[1]))
        redis.call('SREM', ARGV[2] .. inside_host(rec), string.sub(rec, 1, 13))
        return rec
        """;

    /// <summary>
    /// KEYS: the host set. ARGV: key prefix, host (4 bytes), chunk size. Removes up to a chunk of the host's
    /// connections, so that a host with very many never blocks Redis for long; returns {members left, records...}.
    /// </summary>
    public const string RemoveHost = Helpers + "\n" + """
        local removed = {0}
        for _, member in ipairs(redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))) do
          local key = ARGV[1] .. member
          local rec = redis.call('GET', key)
          if rec and inside_host(rec) == ARGV[2] then
            redis.call('DEL', key, other_key(rec, ARGV[1]))
            table.insert(removed, rec)
          end
        end
        removed[1] = redis.call('SCARD', KEYS[1])
        return removed
        """;
}
