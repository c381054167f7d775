using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NatFramework.Packets;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// The Redis store against a server process of its own that the test stops, hangs or secures: an outage and recovery,
/// a hung server, a server down at start, credentials, ACL users, TLS; and option checks and DI registration.
/// </summary>
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

    /// <param name="shards">The table in one hash tag, or spread over three (on one server here: the same outage for each).</param>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Redis_down_gives_store_unavailable_in_bounded_time_keeps_established_flows_and_recovers(int shards)
    {
        RequireServer();
        var (nat, store) = Router("outage", configure: o =>
        {
            o.OperationTimeout = new RedisStoreOptions().OperationTimeout;
            o.Shards = shards;
        });
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
        var (fresh, _) = Router("outage", configure: o => o.Shards = shards);
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
        Assert.Contains("Shards", Assert.Throws<ArgumentOutOfRangeException>(() => new RedisStoreOptions { Configuration = "x", Shards = 0 }.Validate()).Message);
        Assert.Contains("Shards", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new RedisStoreOptions { Configuration = "x", Shards = RedisStoreOptions.MaxShards + 1 }.Validate()).Message);
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
            ["Redis:Shards"] = "2",
        }).Build();
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseRedisStore(configuration.GetSection("Redis"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<RedisStoreOptions>>().Value;
        Assert.Equal("natcfg", options.KeyPrefix);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.OperationTimeout);
        Assert.Equal(2, options.Shards);
        Assert.IsType<RedisNatTranslator>(provider.GetRequiredService<INatTranslator>());
    }

}
