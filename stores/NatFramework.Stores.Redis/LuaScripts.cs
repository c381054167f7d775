namespace NatFramework.Stores.Redis;

/// <summary>
/// The server-side halves of the store's writes: each runs atomically in Redis, so both directions of a connection, its
/// host-index entry and its places in the expiry indexes change together or not at all, whichever router writes. Records
/// and keys are the binary forms of <see cref="RecordCodec"/>; every key carries the table's hash tag, so a script
/// touches one cluster slot.
/// </summary>
/// <remarks>
/// <para>Indexes, all sorted sets scored by when the connection's keys expire in Redis's own clock (<c>TIME</c>, the clock
/// of <c>PX</c> expiry), member the outbound key: each protocol's (<c>{prefix}:e:tcp</c>, <c>:udp</c>, <c>:icmp</c>), which
/// makes the table's size countable atomically with an insert across every router; the transitory TCP connections'
/// (<c>{prefix}:e:tcp-transitory</c>), which give way first when TCP is full; and each inside host's per protocol, its
/// source-NAT connections (<c>{prefix}:h:&lt;protocol&gt;&lt;address&gt;</c>), counted for its limit, and the redirects
/// that reach it (<c>{prefix}:r:…</c>), which a limit does not count; both list the host's connections for removal. The
/// connections of endpoint-independent mappings (flags bit 0x40) are indexed three more ways: by inside endpoint
/// (<c>{prefix}:m:&lt;protocol&gt;&lt;address&gt;&lt;port&gt;</c>), by public endpoint (<c>:x:</c>) and by public endpoint and
/// remote address (<c>:a:</c>), so a mapping is alive exactly while one of its members' scores is still ahead, whichever
/// router wrote them. Entries whose keys Redis has expired are dropped from them a few at a time by later writes.</para>
/// <para>A connection's TTL follows its state: the established timeout, or the transitory one for a transitory TCP
/// connection (flags bit 0x20); scripts that refresh a connection get both and pick by the record's flags.</para>
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
        local function is_transitory(flags)
          return math.floor(flags / 32) % 2 == 1
        end
        local function is_mapped(rec)
          return math.floor(string.byte(rec, 35) / 64) % 2 == 1
        end
        -- A mapped connection's indexes: its inside endpoint, its public endpoint, its public endpoint and remote address.
        local function mapping_keys(rec, tag)
          local p = string.sub(rec, 1, 1)
          return tag .. ':m:' .. p .. string.sub(rec, 2, 7), tag .. ':x:' .. p .. string.sub(rec, 15, 20),
            tag .. ':a:' .. p .. string.sub(rec, 15, 20) .. string.sub(rec, 8, 11)
        end
        -- A record of a live member of an index (nil when none): members whose keys Redis expired are dropped on the way.
        local function live_member(index, tag, now)
          for _ = 1, 8 do
            local member = redis.call('ZRANGEBYSCORE', index, now, '+inf', 'LIMIT', 0, 1)
            if #member == 0 then return nil end
            local rec = redis.call('GET', tag .. ':k:' .. member[1])
            if rec then return rec end
            redis.call('ZREM', index, member[1])
          end
          return nil
        end
        local index_names = { [1] = 'icmp', [6] = 'tcp', [17] = 'udp' }
        local function index_key(rec, tag)
          return tag .. ':e:' .. index_names[string.byte(rec, 1)]
        end
        local function host_key(rec, tag)
          local kind = ':h:'
          if string.byte(rec, 35) % 2 == 1 then kind = ':r:' end
          return tag .. kind .. string.sub(rec, 1, 1) .. inside_host(rec)
        end
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function forget_expired(index, now, limit)
          local gone = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. now, 'LIMIT', 0, limit)
          if #gone > 0 then redis.call('ZREM', index, unpack(gone)) end
        end
        -- Removes a connection (both keys, every index) given its record; returns nothing.
        local function drop(rec, tag)
          local member = string.sub(rec, 1, 13)
          redis.call('DEL', tag .. ':k:' .. member, tag .. ':k:' .. reply_key(rec))
          redis.call('ZREM', index_key(rec, tag), member)
          redis.call('ZREM', tag .. ':e:tcp-transitory', member)
          redis.call('ZREM', host_key(rec, tag), member)
          if is_mapped(rec) then
            local m, x, a = mapping_keys(rec, tag)
            redis.call('ZREM', m, member)
            redis.call('ZREM', x, member)
            redis.call('ZREM', a, member)
          end
        end
        -- Gives a connection's keys and index entries the lifetime of its state; returns the expiry time (or '+inf').
        local function set_lifetime(rec, key, other, ttl, tag, now)
          local member = string.sub(rec, 1, 13)
          local expires = '+inf'
          if ttl > 0 then
            expires = now + ttl
            redis.call('PEXPIRE', key, ttl)
            if redis.call('EXISTS', other) == 1 then redis.call('PEXPIRE', other, ttl) end
            local host = host_key(rec, tag)
            if redis.call('PTTL', host) < ttl then redis.call('PEXPIRE', host, ttl) end
          end
          redis.call('ZADD', index_key(rec, tag), 'XX', expires, member)
          redis.call('ZADD', host_key(rec, tag), 'XX', expires, member)
          if is_mapped(rec) then
            for _, index in ipairs({mapping_keys(rec, tag)}) do
              redis.call('ZADD', index, 'XX', expires, member)
              if ttl > 0 and redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
            end
          end
          if is_transitory(string.byte(rec, 35)) then
            redis.call('ZADD', tag .. ':e:tcp-transitory', expires, member)
          else
            redis.call('ZREM', tag .. ':e:tcp-transitory', member)
          end
        end
        """;

    /// <summary>
    /// KEYS: outbound key, reply key, the inside host's index, the protocol's expiry index. ARGV: outbound record, reply
    /// record, TTL ms (0: none), outbound key bytes, capacity, host limit (0: none), table tag. Returns {0, connections of
    /// the protocol} inserted, {1, record} outbound key taken (with the holder), {2} reply key taken (or, for a mapped
    /// connection, its public endpoint is another inside endpoint's), {3, connections} the protocol is at its capacity,
    /// {4} the host is at its limit, {5, record} the inside endpoint's mapping has another public endpoint (with one of its
    /// connections).
    /// </summary>
    public const string Insert = Helpers + "\n" + """
        local held = redis.call('GET', KEYS[1])
        if held then return {1, held} end
        if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
        local now = now_ms()
        local tag = ARGV[7]
        local mapped = is_mapped(ARGV[1])
        if mapped then
          local m, x = mapping_keys(ARGV[1], tag)
          local mine = live_member(m, tag, now)
          if mine and string.sub(mine, 15, 20) ~= string.sub(ARGV[1], 15, 20) then return {5, mine} end
          local owner = live_member(x, tag, now)
          if owner and string.sub(owner, 2, 7) ~= string.sub(ARGV[1], 2, 7) then return {2} end
        end
        local transitory_index = tag .. ':e:tcp-transitory'
        local limit = tonumber(ARGV[6])
        if limit > 0 then
          forget_expired(KEYS[3], now, 4096)
          if redis.call('ZCARD', KEYS[3]) >= limit then return {4} end
        end
        forget_expired(KEYS[4], now, 64)
        local capacity = tonumber(ARGV[5])
        local count = redis.call('ZCARD', KEYS[4])
        if count >= capacity then
          forget_expired(KEYS[4], now, 4096)
          count = redis.call('ZCARD', KEYS[4])
        end
        local evicted = 0
        if count >= capacity and string.byte(ARGV[1], 1) == 6 then
          -- A full TCP table makes room from its transitory connections first (closed, reset, never answered).
          forget_expired(transitory_index, now, 64)
          local oldest = redis.call('ZRANGE', transitory_index, 0, 0)
          if #oldest == 1 then
            local victim = redis.call('GET', tag .. ':k:' .. oldest[1])
            if victim then
              drop(victim, tag)
              evicted = 1
            else
              redis.call('ZREM', transitory_index, oldest[1])
            end
            count = redis.call('ZCARD', KEYS[4])
          end
        end
        if count >= capacity then return {3, count} end
        local ttl = tonumber(ARGV[3])
        local expires = '+inf'
        if ttl > 0 then
          expires = now + ttl
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
          redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
        else
          redis.call('SET', KEYS[1], ARGV[1])
          redis.call('SET', KEYS[2], ARGV[2])
        end
        redis.call('ZADD', KEYS[4], expires, ARGV[4])
        redis.call('ZADD', KEYS[3], expires, ARGV[4])
        if is_transitory(string.byte(ARGV[1], 35)) then redis.call('ZADD', transitory_index, expires, ARGV[4]) end
        if mapped then
          for _, index in ipairs({mapping_keys(ARGV[1], tag)}) do
            redis.call('ZADD', index, expires, ARGV[4])
            if ttl > 0 then
              if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
            else
              redis.call('PERSIST', index)
            end
          end
        end
        -- The host index lives as long as its longest-lived member could; stale members are dropped as they are met.
        if ttl > 0 then
          if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
        else
          redis.call('PERSIST', KEYS[3])
        end
        return {0, redis.call('ZCARD', KEYS[4]), evicted}
        """;

    /// <summary>
    /// KEYS: a key of the connection. ARGV: last-seen (8 bytes), established TTL ms, transitory TTL ms (0: none), key
    /// prefix, table tag. Returns 1 when found.
    /// </summary>
    public const string Touch = Helpers + "\n" + """
        local rec = redis.call('GET', KEYS[1])
        if not rec then return 0 end
        local other = other_key(rec, ARGV[4])
        for _, key in ipairs({KEYS[1], other}) do
          if redis.call('EXISTS', key) == 1 then redis.call('SETRANGE', key, 26, ARGV[1]) end
        end
        local ttl = tonumber(ARGV[2])
        if is_transitory(string.byte(rec, 35)) then ttl = tonumber(ARGV[3]) end
        set_lifetime(rec, KEYS[1], other, ttl, ARGV[5], now_ms())
        return 1
        """;

    /// <summary>
    /// KEYS: a key of the connection. ARGV: last-seen (8 bytes), the expected flags (a number), the new flags (1 byte),
    /// established TTL ms, transitory TTL ms (0: none), key prefix, table tag. A TCP state change by compare-and-set: when
    /// the record's flags are the expected ones, both records get the new flags and time and every index the new
    /// lifetime. Returns the flags the record had (the change was made when they equal the expected ones), -1 when the
    /// key is gone.
    /// </summary>
    public const string UpdateState = Helpers + "\n" + """
        local rec = redis.call('GET', KEYS[1])
        if not rec then return -1 end
        local had = string.byte(rec, 35)
        if had ~= tonumber(ARGV[2]) then return had end
        local other = other_key(rec, ARGV[6])
        for _, key in ipairs({KEYS[1], other}) do
          if redis.call('EXISTS', key) == 1 then
            redis.call('SETRANGE', key, 26, ARGV[1])
            redis.call('SETRANGE', key, 34, ARGV[3])
          end
        end
        rec = redis.call('GET', KEYS[1])
        local ttl = tonumber(ARGV[4])
        if is_transitory(string.byte(rec, 35)) then ttl = tonumber(ARGV[5]) end
        set_lifetime(rec, KEYS[1], other, ttl, ARGV[7], now_ms())
        return had
        """;

    /// <summary>KEYS: a key of the connection. ARGV: table tag. Returns the removed record or false.</summary>
    public const string Remove = Helpers + "\n" + """
        local rec = redis.call('GET', KEYS[1])
        if not rec then return false end
        drop(rec, ARGV[1])
        return rec
        """;

    /// <summary>
    /// KEYS: the host's indexes (TCP, UDP and ICMP source NAT, TCP and UDP redirects). ARGV: table tag, chunk size. Removes up to a chunk of the host's
    /// connections, so that a host with very many never blocks Redis for long; returns {members left, records...}.
    /// </summary>
    public const string RemoveHost = Helpers + "\n" + """
        local removed = {0}
        local budget = tonumber(ARGV[2])
        for _, index in ipairs(KEYS) do
          if budget > 0 then
            local members = redis.call('ZRANGE', index, 0, budget - 1)
            for _, member in ipairs(members) do
              local rec = redis.call('GET', ARGV[1] .. ':k:' .. member)
              if rec then
                drop(rec, ARGV[1])
                table.insert(removed, rec)
              else
                redis.call('ZREM', index, member)
              end
              budget = budget - 1
            end
          end
        end
        local left = 0
        for _, index in ipairs(KEYS) do left = left + redis.call('ZCARD', index) end
        removed[1] = left
        return removed
        """;

    /// <summary>
    /// KEYS: a public endpoint's mapping index, and its index for one remote address. ARGV: table tag. Returns {0} when
    /// no live connection has the public endpoint, else {1, a live connection's record, 1 when a live connection goes to
    /// the remote address else 0}.
    /// </summary>
    public const string FindMapping = Helpers + "\n" + """
        local now = now_ms()
        local rec = live_member(KEYS[1], ARGV[1], now)
        if not rec then return {0} end
        local seen = 0
        if live_member(KEYS[2], ARGV[1], now) then seen = 1 end
        return {1, rec, seen}
        """;

    /// <summary>KEYS: expiry indexes (one per protocol). Returns, for each, how many of its connections have not expired.</summary>
    public const string Count = Helpers + "\n" + """
        local now = now_ms()
        local counts = {}
        for i, index in ipairs(KEYS) do counts[i] = redis.call('ZCOUNT', index, now, '+inf') end
        return counts
        """;
}
