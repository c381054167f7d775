using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NatFramework.Packets;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>What only a shared, remote store shows: two routers on one table, an outage and recovery, Redis expiry, auth.</summary>
public sealed class RedisStoreTests : IDisposable
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private readonly RedisServer _redis = new();
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
        _redis.Dispose();
    }

    private void RequireServer() => Skip.If(_redis.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");

    private (RedisNatTranslator Nat, RedisNatStore Store) Router(string prefix, NatOptions? options = null, Action<RedisStoreOptions>? configure = null)
    {
        // Generous by default so a busy CI machine does not fail these tests; the outage test sets the real default.
        var storeOptions = new RedisStoreOptions { Configuration = _redis.Configuration, KeyPrefix = prefix, OperationTimeout = TimeSpan.FromSeconds(2) };
        configure?.Invoke(storeOptions);
        var store = new RedisNatStore(storeOptions);
        _owned.Add(store);
        return (new RedisNatTranslator(store, options), store);
    }

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), port, Server, 53, "q"u8);

    private static async Task<NatTranslateResult> Translate(INatTranslator nat, byte[] packet) => await nat.TranslateAsync((byte[])packet.Clone());

    [SkippableFact]
    public async Task A_connection_added_by_one_router_is_translated_by_another()
    {
        RequireServer();
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
        RequireServer();
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
        RequireServer();
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
    public async Task Redis_down_gives_store_unavailable_in_bounded_time_keeps_established_flows_and_recovers()
    {
        RequireServer();
        var (nat, store) = Router("outage", configure: o => o.OperationTimeout = new RedisStoreOptions().OperationTimeout);
        var established = Udp(2, 4000);
        var added = await nat.AddNatAsync(established, Public);
        Assert.True(added.IsOk);
        Assert.True((await Translate(nat, established)).IsTranslated);

        _redis.Kill();
        await Task.Delay(1100); // past the near cache's freshness: only the outage rule keeps serving it

        var clock = Stopwatch.StartNew();
        var unknown = await Translate(nat, Udp(3, 4000));
        var elapsed = clock.Elapsed;
        var add = await nat.AddNatAsync(Udp(4, 4000), Public);
        var stillServed = await Translate(nat, established);

        Assert.Equal(NatTranslateStatus.StoreUnavailable, unknown.Status);
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"took {elapsed.TotalMilliseconds} ms");
        Assert.Equal(NatAddStatus.StoreUnavailable, add.Status);
        Assert.True(stillServed.IsTranslated);
        Assert.False(store.IsAvailable);

        _redis.Start();
        var deadline = Stopwatch.StartNew();
        NatAddResult retry;
        while ((retry = await nat.AddNatAsync(Udp(5, 4000), Public)).Status == NatAddStatus.StoreUnavailable)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "the store did not recover after Redis came back");
            await Task.Delay(100);
        }
        Assert.Equal(NatAddStatus.Ok, retry.Status);
        Assert.True(store.IsAvailable);

        // Nothing acknowledged was lost: a router that never cached it finds the connection added before the crash.
        var (fresh, _) = Router("outage");
        var copy = (byte[])established.Clone();
        Assert.True((await fresh.TranslateAsync(copy)).IsTranslated);
        Ipv4Packet.TryParse(copy, out var ip);
        Assert.Equal(added.Connection.AllocatedPort, ip.Udp.SourcePort);
    }

    [SkippableFact]
    public async Task An_outage_is_logged_once_when_it_starts_and_once_when_it_ends()
    {
        RequireServer();
        var log = new RecordingLogger();
        var store = new RedisNatStore(new RedisStoreOptions { Configuration = _redis.Configuration, KeyPrefix = "logging" }, log);
        _owned.Add(store);
        var nat = new RedisNatTranslator(store);
        Assert.True((await nat.AddNatAsync(Udp(2, 4000), Public)).IsOk);

        _redis.Kill();
        for (int i = 0; i < 50; i++) Assert.Equal(NatTranslateStatus.StoreUnavailable, (await Translate(nat, Udp(100 + i, 4000))).Status);
        _redis.Start();
        var deadline = Stopwatch.StartNew();
        while ((await nat.AddNatAsync(Udp(3, 4000), Public)).Status == NatAddStatus.StoreUnavailable)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "no recovery");
            await Task.Delay(100);
        }

        Assert.Single(log.Entries, e => e.Contains("is unavailable", StringComparison.Ordinal));
        Assert.Single(log.Entries, e => e.Contains("is available again", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Idle_connections_expire_by_redis_ttl_and_traffic_keeps_them()
    {
        RequireServer();
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
        RequireServer();
        var options = new NatOptions
        {
            TcpTimeout = TimeSpan.FromSeconds(60),
            TcpTransitoryTimeout = TimeSpan.FromSeconds(2),
            Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)] },
        };
        var (a, _) = Router("tcpstate", options);
        var (b, _) = Router("tcpstate", options);
        using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        var db = redis.GetDatabase();
        var keys = redis.GetServer(redis.GetEndPoints()[0]);
        async Task<long[]> LifetimesAsync()
        {
            var found = keys.Keys(pattern: "{tcpstate}:k:*").ToArray();
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
        Assert.Empty(keys.Keys(pattern: "{tcpstate}:k:*"));
        Assert.True(await b.IsPortFreeAsync(NatProtocol.Tcp, Server, Public, 80, port));
    }

    private static ushort SourcePortOf(byte[] translated) => (ushort)(translated[20] << 8 | translated[21]);

    [SkippableFact]
    public async Task Two_routers_give_one_inside_endpoint_one_public_endpoint_and_filter_by_what_either_saw()
    {
        RequireServer();
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
    public async Task Credentials_that_work_are_used_and_wrong_or_missing_ones_are_an_error_at_start()
    {
        RequireServer();
        using var secured = new RedisServer(password: "n4t-secret");
        using var good = new RedisNatStore(new RedisStoreOptions { Configuration = secured.Configuration, KeyPrefix = "auth" });

        var wrong = Assert.Throws<UnauthorizedAccessException>(() => new RedisNatStore(new RedisStoreOptions { Configuration = $"127.0.0.1:{secured.Port},password=guess", KeyPrefix = "auth" }));
        var missing = Assert.Throws<UnauthorizedAccessException>(() => new RedisNatStore(new RedisStoreOptions { Configuration = $"127.0.0.1:{secured.Port}", KeyPrefix = "auth" }));

        Assert.True((await new RedisNatTranslator(good).AddNatAsync(Udp(2, 4000), Public)).IsOk);
        Assert.Contains("refused the NAT store's credentials", wrong.Message);
        Assert.Contains("password=", wrong.Message);
        Assert.Contains("refused the NAT store's credentials", missing.Message);
    }

    [SkippableFact]
    public async Task An_acl_user_limited_to_its_tables_keys_works_and_one_without_scripting_is_refused_at_start()
    {
        RequireServer();
        // Least privilege for a router: every command, but only the keys of its own table ("{acl}…") and any channel.
        Cli("ACL", "SETUSER", "nat-router", "on", ">r0uter-pw", "~{acl}*", "&*", "+@all");
        Cli("ACL", "SETUSER", "no-scripts", "on", ">pw", "~*", "&*", "+@all", "-@scripting");
        // As a deployment would: no anonymous access (a refused AUTH leaves a connection as the default user).
        Cli("ACL", "SETUSER", "default", "off");

        using var good = new RedisNatStore(new RedisStoreOptions { Configuration = $"{_redis.Configuration},user=nat-router,password=r0uter-pw", KeyPrefix = "acl" });
        var nat = new RedisNatTranslator(good);
        var added = await nat.AddNatAsync(Udp(2, 4000), Public);
        var translated = await Translate(nat, Udp(2, 4000));
        var wrong = Assert.Throws<UnauthorizedAccessException>(() =>
            new RedisNatStore(new RedisStoreOptions { Configuration = $"{_redis.Configuration},user=nat-router,password=guess", KeyPrefix = "acl" }));
        var noScripts = Assert.Throws<UnauthorizedAccessException>(() =>
            new RedisNatStore(new RedisStoreOptions { Configuration = $"{_redis.Configuration},user=no-scripts,password=pw", KeyPrefix = "acl" }));

        Assert.True(added.IsOk);
        Assert.True(translated.IsTranslated);
        Assert.Contains("refused the NAT store's credentials", wrong.Message);
        Assert.Contains("NOPERM", noScripts.Message);
        Assert.Contains("ACL", noScripts.Message);
    }

    [SkippableFact]
    public async Task Over_tls_the_store_works_with_the_servers_ca_trusted_and_not_without_it()
    {
        RequireServer();
        Skip.If(!RedisServer.CanServeTls, "openssl is not installed (bash tests/run.sh installs it)");
        using var secured = new RedisServer(tls: true);
        var trusted = ConfigurationOptions.Parse($"127.0.0.1:{secured.Port},ssl=true,sslHost=localhost,abortConnect=false,connectTimeout=2000");
        trusted.TrustIssuer(secured.CaCertificate);
        using var connection = await ConnectionMultiplexer.ConnectAsync(trusted);
        using var store = new RedisNatStore(new RedisStoreOptions { Configuration = $"127.0.0.1:{secured.Port},ssl=true", KeyPrefix = "tls" }, connection);
        var nat = new RedisNatTranslator(store);
        var added = await nat.AddNatAsync(Udp(2, 4000), Public);
        var translated = await Translate(nat, Udp(2, 4000));

        // Without the CA the server's certificate is not trusted: a clear error at start, as retrying cannot help. In
        // plain text the TLS port does not answer: the store is unavailable rather than talking in the clear.
        var untrusted = Assert.Throws<System.Security.Authentication.AuthenticationException>(() =>
            new RedisNatStore(new RedisStoreOptions { Configuration = $"127.0.0.1:{secured.Port},ssl=true,sslHost=localhost", KeyPrefix = "tls" }));
        using var plain = new RedisNatStore(new RedisStoreOptions { Configuration = $"127.0.0.1:{secured.Port},connectTimeout=1000", KeyPrefix = "tls" });

        Assert.True(added.IsOk);
        Assert.True(translated.IsTranslated);
        Assert.Contains("TLS handshake failed", untrusted.Message);
        Assert.Contains("UntrustedRoot", untrusted.Message);
        Assert.Equal(NatAddStatus.StoreUnavailable, (await new RedisNatTranslator(plain).AddNatAsync(Udp(3, 4000), Public)).Status);
    }

    private void Cli(params string[] command)
    {
        var start = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(_redis.Executable)!, "redis-cli")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-p", _redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. command]) start.ArgumentList.Add(argument);
        using var cli = Process.Start(start)!;
        string output = cli.StandardOutput.ReadToEnd() + cli.StandardError.ReadToEnd();
        cli.WaitForExit();
        Assert.True(cli.ExitCode == 0 && output.Trim() == "OK", $"redis-cli {string.Join(' ', command)}: {output}");
    }

    [SkippableFact]
    public async Task A_redis_that_is_down_at_start_is_not_an_error_and_is_used_once_it_answers()
    {
        RequireServer();
        using var later = new RedisServer();
        later.Kill();
        using var store = new RedisNatStore(new RedisStoreOptions { Configuration = later.Configuration, KeyPrefix = "later", OperationTimeout = TimeSpan.FromSeconds(2) });
        var nat = new RedisNatTranslator(store);
        Assert.Equal(NatAddStatus.StoreUnavailable, (await nat.AddNatAsync(Udp(2, 4000), Public)).Status);

        later.Start();
        var deadline = Stopwatch.StartNew();
        NatAddResult added;
        while ((added = await nat.AddNatAsync(Udp(2, 4000), Public)).Status == NatAddStatus.StoreUnavailable)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "the store never reached Redis once it answered");
            await Task.Delay(100);
        }
        Assert.Equal(NatAddStatus.Ok, added.Status);
    }

    [SkippableFact]
    public async Task Each_protocol_is_bounded_across_routers_counted_with_each_insert_and_freed_by_removal_and_expiry()
    {
        RequireServer();
        var options = new NatOptions { UdpTimeout = TimeSpan.FromSeconds(2) };
        var (a, storeA) = Router("bounded", options, o => o.UdpCapacity = 5);
        var (b, storeB) = Router("bounded", options, o => o.UdpCapacity = 5);

        var results = new List<NatAddStatus>();
        for (int i = 0; i < 8; i++) results.Add((await (i % 2 == 0 ? a : b).AddNatAsync(Udp(2 + i, 4000), Public)).Status);

        Assert.Equal(Enumerable.Repeat(NatAddStatus.Ok, 5).Concat(Enumerable.Repeat(NatAddStatus.TableFull, 3)), results);
        Assert.Equal(5, await storeA.CountAsync(NatProtocol.Udp));
        Assert.Equal(5, await storeB.CountAsync(NatProtocol.Udp));
        Assert.Equal(0, await storeA.CountAsync(NatProtocol.Tcp));
        Assert.True((await a.AddNatAsync(Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A4D0002u), 4000, Server, 443, []), Public)).IsOk); // its own bound

        // A removal makes room at once, on every router.
        await b.RemoveConnectionsAsync(new Ipv4Address(0x0A4D0002u));
        Assert.Equal(4, await storeA.CountAsync(NatProtocol.Udp));
        Assert.True((await a.AddNatAsync(Udp(20, 4000), Public)).IsOk);
        Assert.Equal(NatAddStatus.TableFull, (await b.AddNatAsync(Udp(21, 4000), Public)).Status);

        // Expiry (Redis's own, here 2 s) makes room too.
        await Task.Delay(2500);
        Assert.Equal(0, await storeB.CountAsync(NatProtocol.Udp));
        for (int i = 0; i < 5; i++) Assert.True((await b.AddNatAsync(Udp(30 + i, 4000), Public)).IsOk);
        Assert.Equal(NatAddStatus.TableFull, (await a.AddNatAsync(Udp(40, 4000), Public)).Status);
    }

    [SkippableFact]
    public async Task While_redis_hangs_established_flows_never_wait_and_new_flows_fail_fast_then_it_recovers()
    {
        RequireServer();
        var (nat, store) = Router("hang", configure: o =>
        {
            o.OperationTimeout = new RedisStoreOptions().OperationTimeout;
            o.NearCacheFreshness = TimeSpan.FromMilliseconds(100);
        });
        var established = Enumerable.Range(0, 20).Select(i => Udp(2 + i, 4000)).ToList();
        foreach (var packet in established)
        {
            Assert.True((await nat.AddNatAsync(packet, Public)).IsOk);
            Assert.True((await Translate(nat, packet)).IsTranslated);
        }

        _redis.Pause();
        try
        {
            await Task.Delay(300); // every near-cache entry is stale now

            // Established flows: answered from the near cache at once, one background refresh per key at most.
            long before = store.RoundTrips;
            for (int round = 0; round < 50; round++)
            {
                foreach (var packet in established)
                {
                    var pending = nat.TranslateAsync((byte[])packet.Clone());
                    Assert.True(pending.IsCompletedSuccessfully, "an established flow waited for a hung Redis");
                    Assert.True(pending.Result.IsTranslated);
                }
            }
            Assert.InRange(store.RoundTrips - before, 0, established.Count);

            // New flows: the first finds out (within the operation timeout), every later one fails at once.
            var clock = Stopwatch.StartNew();
            var first = await nat.AddNatAsync(Udp(100, 4000), Public);
            Assert.Equal(NatAddStatus.StoreUnavailable, first.Status);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the first new flow took {clock.Elapsed}");
            Assert.False(store.IsAvailable);
            for (int i = 0; i < 100; i++)
            {
                var pending = nat.AddNatAsync(Udp(101 + i, 4000), Public);
                Assert.True(pending.IsCompleted, "a new flow waited for a Redis known to be down");
                Assert.Equal(NatAddStatus.StoreUnavailable, pending.Result.Status);
            }
        }
        finally
        {
            _redis.Resume();
        }

        var deadline = Stopwatch.StartNew();
        NatAddResult added;
        while ((added = await nat.AddNatAsync(Udp(300, 4000), Public)).Status == NatAddStatus.StoreUnavailable)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the store did not recover after Redis went on");
            await Task.Delay(50);
        }
        Assert.Equal(NatAddStatus.Ok, added.Status);
        Assert.True(store.IsAvailable);
    }

    [SkippableFact]
    public async Task Every_key_carries_the_prefix_hash_tag()
    {
        RequireServer();
        var (nat, _) = Router("tagged");
        Assert.True((await nat.AddNatAsync(Udp(2, 4000), Public)).IsOk);
        using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.Configuration);

        var keys = redis.GetServer(redis.GetEndPoints()[0]).Keys(pattern: "*").Select(k => (string)k!).ToList();

        Assert.Equal(4, keys.Count); // outbound key, reply key, host set, the protocol's expiry index
        Assert.All(keys, k => Assert.StartsWith("{tagged}:", k));
    }

    [SkippableFact]
    public async Task A_batch_of_near_cache_misses_is_one_round_trip()
    {
        RequireServer();
        var (nat, store) = Router("batch", configure: o => o.NearCacheCapacity = 0);
        var packets = Enumerable.Range(0, 200).Select(i => Udp(2 + i, 4000)).ToList();
        foreach (var packet in packets) Assert.True((await nat.AddNatAsync(packet, Public)).IsOk);
        var buffer = packets.SelectMany(p => p).ToArray();
        var ranges = Enumerable.Range(0, 200).Select(i => new Range(i * packets[0].Length, (i + 1) * packets[0].Length)).ToArray();
        var results = new NatTranslateResult[200];
        long before = store.RoundTrips;

        await nat.TranslateBatchAsync(buffer, ranges, results);

        Assert.All(results, r => Assert.True(r.IsTranslated));
        Assert.Equal(1, store.RoundTrips - before);
    }

    [Fact]
    public void Invalid_options_are_refused_naming_the_setting()
    {
        Assert.Contains("'password' without a value", Assert.Throws<ArgumentException>(() => new RedisStoreOptions { Configuration = "127.0.0.1:6379,password" }.Validate()).Message);
        Assert.Contains("not a StackExchange.Redis connection string", Assert.Throws<ArgumentException>(() => new RedisStoreOptions { Configuration = "127.0.0.1:6379,pasword=x" }.Validate()).Message);
        Assert.Contains("names no Redis server", Assert.Throws<ArgumentException>(() => new RedisStoreOptions { Configuration = "host:notaport" }.Validate()).Message);
        Assert.Contains("not a host name", Assert.Throws<ArgumentException>(() => new RedisStoreOptions { Configuration = "a:b:c" }.Validate()).Message);
        Assert.Contains("UdpCapacity", Assert.Throws<ArgumentOutOfRangeException>(() => new RedisStoreOptions { Configuration = "x", UdpCapacity = 0 }.Validate()).Message);
        Assert.Contains("Configuration", Assert.Throws<ArgumentException>(() => new RedisStoreOptions().Validate()).Message);
        Assert.Contains("KeyPrefix", Assert.Throws<ArgumentException>(() => new RedisStoreOptions { Configuration = "x", KeyPrefix = "{a}" }.Validate()).Message);
        Assert.Contains("NearCacheFreshness", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new RedisStoreOptions { Configuration = "x", NearCacheFreshness = TimeSpan.FromSeconds(5) }.Validate()).Message);
    }

    [SkippableFact]
    public void UseRedisStore_registers_an_asynchronous_translator()
    {
        RequireServer();
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseRedisStore(o => o.Configuration = _redis.Configuration);
        using var provider = services.BuildServiceProvider();

        Assert.IsType<RedisNatTranslator>(provider.GetRequiredService<INatTranslator>());
        Assert.Null(provider.GetService<ISyncNatTranslator>());
    }

    [SkippableFact]
    public void UseRedisStore_binds_its_options_from_configuration()
    {
        RequireServer();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = _redis.Configuration,
            ["Redis:KeyPrefix"] = "natcfg",
            ["Redis:OperationTimeout"] = "00:00:00.500",
        }).Build();
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseRedisStore(configuration.GetSection("Redis"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<RedisStoreOptions>>().Value;
        Assert.Equal("natcfg", options.KeyPrefix);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.OperationTimeout);
        Assert.IsType<RedisNatTranslator>(provider.GetRequiredService<INatTranslator>());
    }

    [SkippableFact]
    public async Task UseRedisStore_over_the_applications_own_connection_leaves_it_open()
    {
        RequireServer();
        using var shared = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseRedisStore(_ => shared, o => o.KeyPrefix = "natshared");
        await using (var provider = services.BuildServiceProvider())
        {
            var nat = provider.GetRequiredService<INatTranslator>();
            var packet = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
            Assert.True((await nat.AddNatAsync(packet, Ipv4Address.Parse("198.51.100.1"))).IsOk);
            Assert.Equal(shared.Configuration, provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<RedisStoreOptions>>().Value.Configuration);
        }

        Assert.True(shared.IsConnected); // the store did not close what it did not open
        await shared.GetDatabase().KeyDeleteAsync(shared.GetServer(shared.GetEndPoints()[0]).Keys(pattern: "{natshared}*").ToArray());
    }
}
