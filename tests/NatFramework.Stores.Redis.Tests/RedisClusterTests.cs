using System.Diagnostics;
using System.Globalization;
using NatFramework.Packets;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// What a Redis Cluster adds to the shared-table tests (<see cref="RedisStoreOnClusterTests"/>): three routers adding at
/// once, a reset seen by every router, where the keys live (one slot per table; different tables on different
/// masters), and a table's slot moved to another master under traffic.
/// </summary>
public sealed class RedisClusterTests(RedisClusterFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<RedisClusterFixture>, IDisposable
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private readonly RedisClusterFixture _fixture = fixture;
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
    }

    private (RedisNatTranslator Nat, RedisNatStore Store) Router(string prefix, NatOptions? options = null)
    {
        _fixture.RequireCluster();
        var store = new RedisNatStore(new RedisStoreOptions { Configuration = _fixture.Cluster.Configuration, KeyPrefix = prefix, OperationTimeout = TimeSpan.FromSeconds(2) });
        _owned.Add(store);
        return (new RedisNatTranslator(store, options), store);
    }

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), port, Server, 53, "q"u8);

    private static async Task<NatTranslateResult> Translate(INatTranslator nat, byte[] packet) => await nat.TranslateAsync((byte[])packet.Clone());

    private static string Unique(string name) => name + "-" + Guid.NewGuid().ToString("N")[..8];

    [SkippableFact]
    public async Task Three_routers_adding_at_once_on_the_cluster_never_hand_out_one_port_twice()
    {
        string prefix = Unique("race");
        var options = new NatOptions { PreservePorts = false, PortRangeStart = 40000, PortRangeEnd = 40999 };
        var routers = Enumerable.Range(0, 3).Select(_ => Router(prefix, options).Nat).ToArray();

        var added = await Task.WhenAll(Enumerable.Range(0, 600).Select(i => routers[i % 3].AddNatAsync(Udp(10 + i, 6000), Public).AsTask()));

        Assert.All(added, r => Assert.Equal(NatAddStatus.Ok, r.Status));
        var ports = added.Select(r => r.Connection.AllocatedPort).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        // Every router sees the whole table.
        var (reader, store) = Router(prefix);
        Assert.Equal(600, await store.CountAsync(NatProtocol.Udp));
        foreach (var i in new[] { 0, 299, 599 }) Assert.True((await Translate(reader, Udp(10 + i, 6000))).IsTranslated);
    }

    [SkippableFact]
    public async Task A_tables_keys_live_in_one_slot_and_tables_spread_over_the_masters()
    {
        var cluster = _fixture.Cluster;
        var masters = new HashSet<int>();
        for (int t = 0; t < 12; t++)
        {
            string prefix = Unique("placement" + t.ToString(CultureInfo.InvariantCulture));
            var (nat, _) = Router(prefix);
            for (int i = 0; i < 5; i++) Assert.True((await nat.AddNatAsync(Udp(2 + i, 4000), Public)).IsOk);

            int master = cluster.MasterOf("{" + prefix + "}");
            masters.Add(master);
            // All of the table's keys are on that master, none on another.
            var here = cluster.Command(master, "--scan", "--pattern", "{" + prefix + "}*").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(here.Length >= 10, $"{here.Length} keys of table {prefix} on its master");
            foreach (int other in cluster.MasterPorts.Where(p => p != master))
                Assert.Empty(cluster.Command(other, "--scan", "--pattern", "{" + prefix + "}*").Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        // Twelve random tags on three masters: all on one would be odds of 3 × 3^-12.
        Assert.True(masters.Count >= 2, $"tables landed on {masters.Count} master(s)");
    }

    [SkippableFact]
    public async Task Reset_on_the_cluster_empties_the_table_for_every_router()
    {
        string prefix = Unique("reset");
        var (a, store) = Router(prefix);
        var (b, _) = Router(prefix);
        for (int i = 0; i < 20; i++) Assert.True((await a.AddNatAsync(Udp(2 + i, 4000), Public)).IsOk);
        Assert.True((await Translate(b, Udp(2, 4000))).IsTranslated);

        await a.ResetAsync();

        Assert.Equal(0, await store.CountAsync(NatProtocol.Udp));
        var clock = Stopwatch.StartNew();
        while ((await Translate(b, Udp(2, 4000))).IsTranslated)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), "router b still translates after a reset");
            await Task.Delay(10);
        }
    }

    /// <param name="shards">1: the table's one slot moves. 3: the slot of the shard the new flows go to moves, while the
    /// other two shards stay where they are.</param>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Moving_a_tables_slot_to_another_master_under_traffic_costs_no_wrong_answer(int shards)
    {
        string prefix = Unique("reshard");
        // No near cache: every translation asks Redis, so each one meets the migration.
        _fixture.RequireCluster();
        var log = new RecordingLogger();
        var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = _fixture.Cluster.Configuration, KeyPrefix = prefix, NearCacheCapacity = 0, OperationTimeout = TimeSpan.FromSeconds(2),
            Shards = shards,
        }, log);
        _owned.Add(store);
        var nat = new RedisNatTranslator(store);
        var established = new List<(byte[] Packet, ushort Port)>();
        for (int i = 0; i < 200; i++)
        {
            var setup = await nat.AddNatAsync(Udp(2 + i % 20, (ushort)(4000 + i)), Public);
            Assert.True(setup.IsOk);
            established.Add((Udp(2 + i % 20, (ushort)(4000 + i)), setup.Connection.AllocatedPort));
        }

        var cluster = _fixture.Cluster;
        string tag = (string)new TableShards(prefix, shards).OfHost(new Ipv4Address(0x0A4D0000u + 100)).Tag!; // the new flows' shard
        int slot = cluster.SlotOf(tag), source = cluster.MasterOf(tag), target = cluster.MasterPorts.First(p => p != source);
        using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{source},127.0.0.1:{target},allowAdmin=true");
        var from = admin.GetServer("127.0.0.1", source);
        var to = admin.GetServer("127.0.0.1", target);

        int translated = 0, unavailable = 0, added = 0, refused = 0, next = 20_000;
        using var moving = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            var random = new Random(7);
            while (!moving.IsCancellationRequested)
            {
                var (packet, port) = established[random.Next(established.Count)];
                var copy = (byte[])packet.Clone();
                var result = await nat.TranslateAsync(copy);
                if (result.IsTranslated)
                {
                    Ipv4Packet.TryParse(copy, out var ip);
                    Assert.Equal(port, ip.Udp.SourcePort); // a wrong answer fails the test
                    translated++;
                }
                else
                {
                    Assert.Equal(NatTranslateStatus.StoreUnavailable, result.Status);
                    unavailable++;
                }
                var add = await nat.AddNatAsync(Udp(100, (ushort)next++), Public);
                if (add.IsOk) added++;
                else
                {
                    Assert.Equal(NatAddStatus.StoreUnavailable, add.Status);
                    refused++;
                }
            }
        });

        // The slot moves as redis-cli --cluster reshard moves one: importing, migrating, the keys a few at a time, the new owner.
        await Task.Delay(300);
        var migration = Stopwatch.StartNew();
        await to.ExecuteAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.NodeId(source));
        await from.ExecuteAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.NodeId(target));
        while (true)
        {
            var keys = (StackExchange.Redis.RedisResult[])(await from.ExecuteAsync("CLUSTER", "GETKEYSINSLOT", slot, 20))!;
            if (keys.Length == 0) break;
            await from.ExecuteAsync("MIGRATE", ["127.0.0.1", target, "", 0, 5000, "KEYS", .. keys.Select(k => (object)(StackExchange.Redis.RedisKey)(byte[])k!)]);
            await Task.Delay(20);
        }
        foreach (int master in cluster.MasterPorts) cluster.Command(master, "cluster", "setslot", slot.ToString(CultureInfo.InvariantCulture), "node", cluster.NodeId(target));
        var moved = migration.Elapsed;
        await Task.Delay(300);
        moving.Cancel();
        await traffic;

        Assert.Equal(target, cluster.MasterOf(tag));
        // Every connection is on the new master, and translated there.
        foreach (var (packet, port) in established)
        {
            var copy = (byte[])packet.Clone();
            Assert.True((await nat.TranslateAsync(copy)).IsTranslated);
            Ipv4Packet.TryParse(copy, out var ip);
            Assert.Equal(port, ip.Udp.SourcePort);
        }
        Assert.True(translated > 0 && added > 0);
        output.WriteLine($"slot {slot} moved in {moved.TotalMilliseconds:F0} ms under traffic: {translated} translated, {added} added, " +
            $"{unavailable} translations and {refused} adds answered store-unavailable, none wrong; the store logged: {string.Join(" | ", log.Entries)}");
    }
}
