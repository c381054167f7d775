using System.Globalization;
using System.Text.RegularExpressions;
using NatFramework.Packets;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// One table spread over the shards of a Redis Cluster (<see cref="RedisStoreOptions.Shards"/>): where connections
/// live, which public ports they take, redirects and ICMP errors on a sharded table, and the shard count every router
/// has to share. The conformance suite and the shared-table tests also run sharded
/// (<see cref="RedisShardedClusterConformanceTests"/>, <see cref="RedisStoreOnShardedClusterTests"/>).
/// </summary>
public sealed class RedisShardedTableTests(RedisClusterFixture fixture) : IClassFixture<RedisClusterFixture>, IDisposable
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private readonly RedisClusterFixture _fixture = fixture;
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
    }

    private (RedisNatTranslator Nat, RedisNatStore Store) Router(string prefix, int shards = 3, NatOptions? options = null)
    {
        _fixture.RequireCluster();
        var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = _fixture.Cluster.Configuration, KeyPrefix = prefix, OperationTimeout = TimeSpan.FromSeconds(2), Shards = shards,
        });
        _owned.Add(store);
        return (new RedisNatTranslator(store, options), store);
    }

    private static Ipv4Address Inside(int host) => new(0x0A4D0000u + (uint)host);

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(Inside(host), port, Server, 53, "q"u8);

    private static string Unique(string name) => name + "-" + Guid.NewGuid().ToString("N")[..8];

    private static ushort SourcePortOf(byte[] translated) => (ushort)(translated[20] << 8 | translated[21]);

    /// <summary>
    /// What <c>redis-cli --scan</c> lists of the table <paramref name="prefix"/> on each master, by master port: raw key
    /// bytes, so a key may span lines (a flow's bytes can hold a newline); count and parse with patterns, not lines.
    /// </summary>
    private Dictionary<int, string> KeysByMaster(string prefix)
        => _fixture.Cluster.MasterPorts.ToDictionary(port => port, port => _fixture.Cluster.Command(port, "--scan", "--pattern", "{" + prefix + "*"));

    private static int ConnectionKeysIn(string listing) => Regex.Count(listing, "\\}:k:");

    /// <summary>The hash tags (without braces) in a listing, but the prefix's own (which keeps the shard count).</summary>
    private static IEnumerable<string> ShardTagsIn(string listing, string prefix)
        => Regex.Matches(listing, "\\{(" + Regex.Escape(prefix) + "[^}]*)\\}").Select(m => m.Groups[1].Value).Where(t => t != prefix);

    [SkippableFact]
    public async Task Three_shards_put_one_table_on_every_master_and_keep_each_hosts_connections_together()
    {
        string prefix = Unique("spread");
        var (nat, store) = Router(prefix);
        for (int host = 2; host < 62; host++)
            for (int port = 0; port < 2; port++) Assert.True((await nat.AddNatAsync(Udp(host, (ushort)(4000 + port)), Public)).IsOk);

        var byMaster = KeysByMaster(prefix);
        // Each master holds a part of the table's connections (three shard tags chosen in the three thirds of the slots).
        Assert.All(byMaster, pair => Assert.True(ConnectionKeysIn(pair.Value) >= 20, $"master {pair.Key}: {ConnectionKeysIn(pair.Value)} connection keys of the table"));
        Assert.Equal(240, byMaster.Values.Sum(ConnectionKeysIn)); // two keys per connection
        Assert.Equal(120, await store.CountAsync(NatProtocol.Udp));

        // Each connection's public port is of its inside host's shard.
        Assert.All(byMaster.Values, listing => Assert.Single(ShardTagsIn(listing, prefix).Distinct())); // one shard per master
        Assert.Equal(3, byMaster.Values.SelectMany(listing => ShardTagsIn(listing, prefix)).Distinct().Count());
        await foreach (var connection in store.GetConnectionsAsync())
        {
            var shard = store.PortClassOf(connection.Outbound, redirect: false);
            Assert.Equal(shard.Remainder, connection.Translated.SourcePort % 3); // the public port names the shard
        }
    }

    [SkippableFact]
    public async Task A_fixed_port_outside_the_hosts_class_is_refused_and_one_inside_it_is_taken()
    {
        var (nat, store) = Router(Unique("fixed"));
        var packet = Udp(2, 4000);
        var portClass = store.PortClassOf(FlowKey.Udp(Inside(2), 4000, Server, 53), redirect: false);
        ushort inClass = (ushort)(30000 + (portClass.Remainder - 30000 % 3 + 3) % 3);
        ushort outOfClass = (ushort)(inClass + 1);

        var refused = await nat.AddNatAsync(packet, Public, PortAllocator.Fixed(outOfClass));
        long afterRefusal = await store.CountAsync(NatProtocol.Udp);
        var taken = await nat.AddNatAsync(packet, Public, PortAllocator.Fixed(inClass));

        Assert.False(refused.IsOk); // no reply to it could be found: the allocator runs out of candidates
        Assert.Equal(0, afterRefusal);
        Assert.True(taken.IsOk);
        Assert.Equal(inClass, taken.Connection.AllocatedPort);
        var reply = Ipv4PacketBuilder.Udp(Server, 53, Public, inClass, "r"u8);
        Assert.True((await nat.TranslateAsync(reply, NatSide.Outside)).IsTranslated);
        Assert.Equal(Inside(2), Ipv4Address.Read(reply.AsSpan(16)));
    }

    [SkippableFact]
    public async Task A_port_forward_on_a_sharded_table_is_found_both_ways_and_removed_with_its_target()
    {
        var forward = new PortForwardRule(NatProtocol.Tcp, Public, 8080, Inside(5), 80, Inside(1));
        var options = new NatOptions { Policy = new NatPolicy { PortForwards = [forward] } };
        var (a, store) = Router(Unique("forward"), options: options);
        var (b, _) = Router(Unique("other"), options: options); // another table: knows none of it
        var clients = Enumerable.Range(0, 12).Select(i => (Address: new Ipv4Address(0xC6336400u + 10 + (uint)i), Port: (ushort)(50000 + i))).ToList();

        foreach (var (address, port) in clients)
        {
            var syn = Ipv4PacketBuilder.Tcp(address, port, Public, 8080, [], TcpFlags.Syn);
            Assert.True((await a.TranslateAsync(syn, NatSide.Outside)).Created);
            Assert.Equal(Inside(5), Ipv4Address.Read(syn.AsSpan(16)));
            ushort redirectPort = SourcePortOf(syn); // the router's inside address and a port of 8080's class
            Assert.Equal(8080 % 3, redirectPort % 3);
            var answer = Ipv4PacketBuilder.Tcp(Inside(5), 80, Inside(1), redirectPort, [], TcpFlags.Syn | TcpFlags.Ack);
            Assert.True((await a.TranslateAsync(answer, NatSide.Inside)).IsTranslated);
            Assert.Equal((address, port), (Ipv4Address.Read(answer.AsSpan(16)), (ushort)(answer[22] << 8 | answer[23])));
            Assert.False((await b.TranslateAsync((byte[])answer.Clone(), NatSide.Inside)).IsTranslated);
        }

        // The target's redirects are in the shard of port 8080, not of the target host: removing the host finds them.
        var freed = await a.RemoveConnectionsAsync(Inside(5));
        Assert.Equal(clients.Count, freed.Connections.Count);
        Assert.Equal(0, await store.CountAsync(NatProtocol.Tcp));
    }

    [SkippableFact]
    public async Task An_icmp_error_about_a_flow_reaches_the_inside_host_through_a_sharded_table()
    {
        var options = new NatOptions { Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)] } };
        var (nat, _) = Router(Unique("icmp"), options: options);
        for (int host = 2; host < 8; host++)
        {
            var packet = Udp(host, 5000);
            Assert.True((await nat.TranslateAsync(packet, NatSide.Inside)).Created);
            var error = Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, Server, Public, packet, 8, 0, 64);

            Assert.True((await nat.TranslateAsync(error, NatSide.Outside)).IsTranslated);
            Assert.Equal(Inside(host), Ipv4Address.Read(error.AsSpan(16)));
        }
    }

    [SkippableFact]
    public void A_router_with_another_shard_count_is_refused_at_start()
    {
        string prefix = Unique("layout");
        Router(prefix, shards: 3);

        var e = Assert.Throws<ArgumentException>(() => Router(prefix, shards: 1));
        Assert.Contains("Shards is 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("3 shard(s)", e.Message, StringComparison.Ordinal);
        Router(prefix, shards: 3); // the same count is welcome
    }

    [SkippableFact]
    public async Task A_reset_keeps_the_shard_count_and_deleting_the_table_frees_the_prefix()
    {
        string prefix = Unique("reset");
        var (nat, store) = Router(prefix);
        for (int host = 2; host < 12; host++) Assert.True((await nat.AddNatAsync(Udp(host, 4000), Public)).IsOk);

        await nat.ResetAsync();
        Assert.Equal(0, await store.CountAsync(NatProtocol.Udp));
        Assert.Empty(ShardTagsIn(string.Concat(KeysByMaster(prefix).Values), prefix)); // no shard key left
        Assert.Throws<ArgumentException>(() => Router(prefix, shards: 2)); // the count still describes the table

        await store.DeleteTableAsync();
        Assert.All(KeysByMaster(prefix).Values, listing => Assert.Equal("", listing.Trim()));
        Router(prefix, shards: 2); // the prefix is free for another layout
    }

    [SkippableFact]
    public async Task Shard_tags_land_in_the_thirds_of_the_slot_space_redis_computes()
    {
        string prefix = Unique("slots");
        var (nat, _) = Router(prefix);
        for (int host = 2; host < 40; host++) Assert.True((await nat.AddNatAsync(Udp(host, 4000), Public)).IsOk);
        var tags = KeysByMaster(prefix).Values.SelectMany(listing => ShardTagsIn(listing, prefix)).Distinct().ToList();

        Assert.Equal(3, tags.Count);
        foreach (var tag in tags)
        {
            int shard = int.Parse(tag[(prefix.Length + 1)..].Split('.')[0], CultureInfo.InvariantCulture);
            int slot = _fixture.Cluster.SlotOf(tag);
            Assert.InRange(slot, shard * 16384 / 3, (shard + 1) * 16384 / 3 - 1);
        }
    }
}
