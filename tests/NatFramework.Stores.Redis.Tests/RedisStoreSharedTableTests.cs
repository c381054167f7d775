using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using NatFramework.Packets;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// What only a shared, remote table shows, wherever Redis runs: two routers on one table, removal reaching the other
/// router, concurrent adds, Redis expiry, TCP state, endpoint-independent mappings and bounds across routers, key layout,
/// round trips, an application's own connection. Run on a single server (<see cref="RedisStoreOnServerTests"/>) and on a
/// cluster of three masters and three replicas (<see cref="RedisStoreOnClusterTests"/>), there also with each table spread
/// over three shards (<see cref="RedisStoreOnShardedClusterTests"/>).
/// </summary>
public abstract class RedisStoreSharedTableTests : IDisposable
{
    protected static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    protected static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private readonly List<IDisposable> _owned = new();
    // Tests of one class share a cluster: a prefix of this test's own keeps their tables apart.
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    /// <summary>The StackExchange.Redis connection string of the deployment under test.</summary>
    protected abstract string Configuration { get; }

    /// <summary>Skips the test, with the reason, when the deployment cannot run here.</summary>
    protected abstract void RequireRedis();

    /// <summary>How many shards each table is spread over (<see cref="RedisStoreOptions.Shards"/>).</summary>
    protected virtual int Shards => 1;

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what the deployment holds (a server of its own), after the stores are disposed.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private string Prefixed(string prefix) => prefix + "-" + _run;

    private (RedisNatTranslator Nat, RedisNatStore Store) Router(string prefix, NatOptions? options = null, Action<RedisStoreOptions>? configure = null)
    {
        // Generous by default so a busy CI machine does not fail these tests.
        var storeOptions = new RedisStoreOptions { Configuration = Configuration, KeyPrefix = Prefixed(prefix), OperationTimeout = TimeSpan.FromSeconds(2),
            Shards = Shards };
        configure?.Invoke(storeOptions);
        var store = new RedisNatStore(storeOptions);
        _owned.Add(store);
        return (new RedisNatTranslator(store, options), store);
    }

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), port, Server, 53, "q"u8);

    private static async Task<NatTranslateResult> Translate(INatTranslator nat, byte[] packet) => await nat.TranslateAsync((byte[])packet.Clone());

    /// <summary>The keys matching <paramref name="pattern"/> on every master (one server, or each master of a cluster).</summary>
    private static RedisKey[] KeysMatching(IConnectionMultiplexer redis, string pattern)
        => redis.GetServers().Where(s => s.IsConnected && !s.IsReplica).SelectMany(s => s.Keys(pattern: pattern)).ToArray();

    [SkippableFact]
    public async Task A_connection_added_by_one_router_is_translated_by_another()
    {
        RequireRedis();
        var (a, _) = Router("shared");
        var (b, _) = Router("shared");
        var packet = Udp(2, 4000);
        var added = await a.AddNatAsync(packet, Public);

        var copy = (byte[])packet.Clone();
        var result = await b.TranslateAsync(copy);

        Assert.True(added.IsOk);
        Assert.True(result.IsTranslated);
        Ipv4Packet.TryParse(copy, out var ip);
        Assert.Equal(added.Connection.AllocatedPort, ip.Udp.SourcePort);
    }

    [SkippableFact]
    public async Task A_removal_at_one_router_stops_translation_at_the_other_within_a_second()
    {
        RequireRedis();
        var (a, _) = Router("removal");
        var (b, _) = Router("removal");
        var packet = Udp(2, 4000);
        Assert.True((await a.AddNatAsync(packet, Public)).IsOk);
        Assert.True((await Translate(b, packet)).IsTranslated); // now in b's near cache

        await a.RemoveConnectionsAsync(new Ipv4Address(0x0A4D0002u));
        var clock = Stopwatch.StartNew();
        while ((await Translate(b, packet)).IsTranslated)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), "router b still translates a removed connection after 1 s");
            await Task.Delay(10);
        }
    }

    [SkippableFact]
    public async Task Two_routers_adding_at_once_never_hand_out_one_port_twice()
    {
        RequireRedis();
        var (a, _) = Router("race", new NatOptions { PreservePorts = false, PortRangeStart = 40000, PortRangeEnd = 40999 });
        var (b, _) = Router("race", new NatOptions { PreservePorts = false, PortRangeStart = 40000, PortRangeEnd = 40999 });
        var same = Udp(2, 5000);

        var sameFlow = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).AddNatAsync(same, Public).AsTask()));
        var distinct = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => (i % 2 == 0 ? a : b).AddNatAsync(Udp(10 + i, 6000), Public).AsTask()));

        Assert.All(sameFlow, r => Assert.Equal(NatAddStatus.Ok, r.Status));
        Assert.Single(sameFlow.Select(r => r.Connection.AllocatedPort).Distinct());
        Assert.All(distinct, r => Assert.Equal(NatAddStatus.Ok, r.Status));
        var ports = distinct.Select(r => r.Connection.AllocatedPort).Append(sameFlow[0].Connection.AllocatedPort).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
    }

    [SkippableFact]
    public async Task Idle_connections_expire_by_redis_ttl_and_traffic_keeps_them()
    {
        RequireRedis();
        // A 3 s lifetime with traffic every 300 ms: a test machine that stalls (all test projects at once on two cores)
        // would have to hold a step back for three seconds to lose the busy flow.
        var options = new NatOptions { UdpTimeout = TimeSpan.FromSeconds(3) };
        var (nat, _) = Router("ttl", options, o => o.NearCacheFreshness = TimeSpan.FromMilliseconds(100));
        var idle = Udp(2, 4000);
        var busy = Udp(3, 4000);
        Assert.True((await nat.AddNatAsync(idle, Public)).IsOk);
        Assert.True((await nat.AddNatAsync(busy, Public)).IsOk);

        var started = Stopwatch.StartNew();
        while (started.Elapsed < TimeSpan.FromSeconds(4))
        {
            await Task.Delay(300);
            var result = await Translate(nat, busy);
            Assert.True(result.IsTranslated, $"busy flow lost after {started.ElapsedMilliseconds} ms: {result}");
        }

        Assert.Equal(UntranslatedReason.NoConnection, (await Translate(nat, idle)).Reason);
    }

    [SkippableFact]
    public async Task Tcp_state_sets_the_redis_lifetime_and_fins_seen_by_two_routers_both_count()
    {
        RequireRedis();
        var options = new NatOptions
        {
            TcpTimeout = TimeSpan.FromSeconds(60),
            TcpTransitoryTimeout = TimeSpan.FromSeconds(2),
            Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)] },
        };
        var (a, _) = Router("tcpstate", options);
        var (b, _) = Router("tcpstate", options);
        using var redis = await ConnectionMultiplexer.ConnectAsync(Configuration);
        var db = redis.GetDatabase();
        string pattern = ConnectionKeys(Prefixed("tcpstate"));
        async Task<long[]> LifetimesAsync()
        {
            var found = KeysMatching(redis, pattern);
            Assert.Equal(2, found.Length); // both directions
            return await Task.WhenAll(found.Select(async k => (long)(await db.KeyTimeToLiveAsync(k))!.Value.TotalMilliseconds));
        }
        var inside = new Ipv4Address(0x0A4D0002u);
        byte[] Out(TcpFlags flags) => Ipv4PacketBuilder.Tcp(inside, 4000, Server, 80, [], flags);

        var syn = Out(TcpFlags.Syn);
        Assert.True((await a.TranslateAsync(syn)).Created);
        ushort port = SourcePortOf(syn);
        byte[] In(TcpFlags flags) => Ipv4PacketBuilder.Tcp(Server, 80, Public, port, [], flags);
        Assert.All(await LifetimesAsync(), ttl => Assert.InRange(ttl, 1, 2000)); // a lone SYN: transitory

        // The answer passes the other router: the handshake is complete, the established lifetime applies.
        Assert.True((await b.TranslateAsync(In(TcpFlags.Syn | TcpFlags.Ack))).IsTranslated);
        Assert.True((await a.TranslateAsync(Out(TcpFlags.Ack))).IsTranslated);
        Assert.All(await LifetimesAsync(), ttl => Assert.InRange(ttl, 2001, 60000));

        // One FIN each way, each through another router (whose copy of the state may predate the other's FIN).
        Assert.True((await a.TranslateAsync(Out(TcpFlags.Fin | TcpFlags.Ack))).IsTranslated);
        Assert.True((await b.TranslateAsync(In(TcpFlags.Fin | TcpFlags.Ack))).IsTranslated);
        Assert.All(await LifetimesAsync(), ttl => Assert.InRange(ttl, 1, 2000));

        await Task.Delay(2500);
        Assert.Empty(KeysMatching(redis, pattern));
        Assert.True(await b.IsPortFreeAsync(NatProtocol.Tcp, Server, Public, 80, port));
    }

    /// <summary>The glob of a table's connection keys: under its prefix's tag, or under each shard's.</summary>
    private string ConnectionKeys(string prefix) => Shards == 1 ? "{" + prefix + "}:k:*" : "{" + prefix + ".*}:k:*";

    /// <summary>
    /// Inside hosts (numbers under 10.77.0.0, from 2 up) whose source-NAT connections share host 2's shard: a sharded
    /// table bounds each shard, so a test of the bound keeps its connections in one. Every host on one shard.
    /// </summary>
    private static int[] HostsInOneShard(RedisNatStore store, int count)
    {
        PortClass ClassOf(int host) => store.PortClassOf(FlowKey.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), 4000, Server, 53), redirect: false);
        var first = ClassOf(2);
        return Enumerable.Range(2, 10_000).Where(h => ClassOf(h) == first).Take(count).ToArray();
    }

    private static ushort SourcePortOf(byte[] translated) => (ushort)(translated[20] << 8 | translated[21]);

    [SkippableFact]
    public async Task Two_routers_give_one_inside_endpoint_one_public_endpoint_and_filter_by_what_either_saw()
    {
        RequireRedis();
        var options = new NatOptions { Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)] } };
        var (a, _) = Router("mapped", options);
        var (b, _) = Router("mapped", options);
        var inside = new Ipv4Address(0x0A4D0002u);

        var toFirst = Ipv4PacketBuilder.Udp(inside, 40000, Server, 3478, "q"u8);
        var toSecond = Ipv4PacketBuilder.Udp(inside, 40000, new Ipv4Address(0xC6336403u), 3478, "q"u8); // 198.51.100.3
        Assert.True((await a.TranslateAsync(toFirst)).Created);
        Assert.True((await b.TranslateAsync(toSecond)).Created);
        ushort port = SourcePortOf(toFirst);
        Assert.Equal(port, SourcePortOf(toSecond));

        // Router B lets in another port of the server router A's connection went to (address-dependent filtering), and
        // router A keeps out an address neither sent to.
        var fromServer = Ipv4PacketBuilder.Udp(Server, 3479, Public, port, "r"u8);
        var fromStranger = Ipv4PacketBuilder.Udp(new Ipv4Address(0xC6336409u), 3479, Public, port, "r"u8);
        Assert.True((await b.TranslateAsync(fromServer, NatSide.Outside)).Created);
        Assert.Equal(UntranslatedReason.Filtered, (await a.TranslateAsync(fromStranger, NatSide.Outside)).Reason);
    }

    [SkippableFact]
    public async Task Each_protocol_is_bounded_across_routers_counted_with_each_insert_and_freed_by_removal_and_expiry()
    {
        RequireRedis();
        var options = new NatOptions { UdpTimeout = TimeSpan.FromSeconds(2) };
        var (a, storeA) = Router("bounded", options, o => o.UdpCapacity = 5);
        var (b, storeB) = Router("bounded", options, o => o.UdpCapacity = 5);

        var hosts = HostsInOneShard(storeA, 40); // hosts[0] is 2
        var results = new List<NatAddStatus>();
        for (int i = 0; i < 8; i++) results.Add((await (i % 2 == 0 ? a : b).AddNatAsync(Udp(hosts[i], 4000), Public)).Status);

        Assert.Equal(Enumerable.Repeat(NatAddStatus.Ok, 5).Concat(Enumerable.Repeat(NatAddStatus.TableFull, 3)), results);
        Assert.Equal(5, await storeA.CountAsync(NatProtocol.Udp));
        Assert.Equal(5, await storeB.CountAsync(NatProtocol.Udp));
        Assert.Equal(0, await storeA.CountAsync(NatProtocol.Tcp));
        Assert.True((await a.AddNatAsync(Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A4D0002u), 4000, Server, 443, []), Public)).IsOk); // its own bound

        // A removal makes room at once, on every router.
        await b.RemoveConnectionsAsync(new Ipv4Address(0x0A4D0002u));
        Assert.Equal(4, await storeA.CountAsync(NatProtocol.Udp));
        Assert.True((await a.AddNatAsync(Udp(hosts[18], 4000), Public)).IsOk);
        Assert.Equal(NatAddStatus.TableFull, (await b.AddNatAsync(Udp(hosts[19], 4000), Public)).Status);

        // Expiry (Redis's own, here 2 s) makes room too.
        await Task.Delay(2500);
        Assert.Equal(0, await storeB.CountAsync(NatProtocol.Udp));
        for (int i = 0; i < 5; i++) Assert.True((await b.AddNatAsync(Udp(hosts[28 + i], 4000), Public)).IsOk);
        Assert.Equal(NatAddStatus.TableFull, (await a.AddNatAsync(Udp(hosts[38], 4000), Public)).Status);
    }

    [SkippableFact]
    public async Task Every_key_carries_the_prefix_hash_tag()
    {
        RequireRedis();
        var (nat, _) = Router("tagged");
        Assert.True((await nat.AddNatAsync(Udp(2, 4000), Public)).IsOk);
        using var redis = await ConnectionMultiplexer.ConnectAsync(Configuration);

        // Every key that mentions the prefix anywhere, on every master.
        var keys = KeysMatching(redis, "*" + Prefixed("tagged") + "*").Select(k => (string)k!).ToList();

        Assert.Equal(5, keys.Count); // outbound key, reply key, host set, the protocol's expiry index, the table's shard count
        // One shard: the prefix is the tag. Several: each shard's tag is the prefix, its number and a slot chooser; the
        // shard count is kept under the prefix itself.
        string shardTag = Shards == 1 ? "\\{" + Prefixed("tagged") + "\\}" : "\\{" + Prefixed("tagged") + "\\.[0-9]+\\.[0-9]+\\}";
        Assert.All(keys, k => Assert.Matches("^(" + shardTag + ":[khe]:|\\{" + Prefixed("tagged") + "\\}:shards$)", k));
    }

    [SkippableFact]
    public async Task A_batch_of_near_cache_misses_is_one_round_trip()
    {
        RequireRedis();
        var (nat, store) = Router("batch", configure: o => o.NearCacheCapacity = 0);
        var packets = Enumerable.Range(0, 200).Select(i => Udp(2 + i, 4000)).ToList();
        foreach (var packet in packets) Assert.True((await nat.AddNatAsync(packet, Public)).IsOk);
        var buffer = packets.SelectMany(p => p).ToArray();
        var ranges = Enumerable.Range(0, 200).Select(i => new Range(i * packets[0].Length, (i + 1) * packets[0].Length)).ToArray();
        var results = new NatTranslateResult[200];

        // The translator also refreshes a connection's expiry in Redis once per refresh interval: when adding the 200
        // took longer than that (a loaded machine), the batch refreshes some too, each a request of its own. Refreshing
        // only adds, and a batch just after one needs none, so the fewest of three tries is the lookups' own count.
        long fewest = long.MaxValue;
        for (int attempt = 0; attempt < 3 && fewest > 1; attempt++)
        {
            long before = store.RoundTrips;
            await nat.TranslateBatchAsync(buffer, ranges, results);
            Assert.All(results, r => Assert.True(r.IsTranslated));
            fewest = Math.Min(fewest, store.RoundTrips - before);
        }

        Assert.Equal(1, fewest);
    }

    [SkippableFact]
    public async Task UseRedisStore_over_the_applications_own_connection_leaves_it_open()
    {
        RequireRedis();
        using var shared = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Configuration);
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseRedisStore(_ => shared, o => o.KeyPrefix = Prefixed("natshared"));
        await using (var provider = services.BuildServiceProvider())
        {
            var nat = provider.GetRequiredService<INatTranslator>();
            var packet = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
            Assert.True((await nat.AddNatAsync(packet, Ipv4Address.Parse("198.51.100.1"))).IsOk);
            Assert.Equal(shared.Configuration, provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<RedisStoreOptions>>().Value.Configuration);
        }

        Assert.True(shared.IsConnected); // the store did not close what it did not open
        await shared.GetDatabase().KeyDeleteAsync(KeysMatching(shared, "{" + Prefixed("natshared") + "}*"));
    }
}
