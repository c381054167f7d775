using System.Diagnostics;
using System.Globalization;
using NatFramework.Packets;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// What a Redis Cluster adds to the shared-table tests: several routers on one table whose master is one of three,
/// removal reaching every router's near cache through the cluster's pub/sub, no port handed out twice under
/// concurrent adds, and where the keys live (one slot per table; different tables on different masters).
/// </summary>
public sealed class RedisClusterTests : IClassFixture<RedisClusterFixture>, IDisposable
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private readonly RedisClusterFixture _fixture;
    private readonly List<IDisposable> _owned = new();

    public RedisClusterTests(RedisClusterFixture fixture) => _fixture = fixture;

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
    public async Task A_connection_added_by_one_router_is_translated_by_another_on_the_cluster()
    {
        string prefix = Unique("shared");
        var (a, _) = Router(prefix);
        var (b, _) = Router(prefix);
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
    public async Task A_removal_at_one_router_reaches_the_other_through_the_clusters_pub_sub()
    {
        string prefix = Unique("removal");
        var (a, _) = Router(prefix);
        var (b, _) = Router(prefix);
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
}
