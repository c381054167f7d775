using System.Diagnostics;
using NatFramework.Packets;
using Xunit.Abstractions;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// A master of a Redis Cluster killed (SIGKILL) under a running table (on one master, or over all three in shards), on a
/// cluster of its own: adds during the election are refused as store-unavailable, never answered wrongly; the store
/// finds the promoted replica by itself within a bound; and no connection acknowledged with
/// <see cref="RedisStoreOptions.ReplicaAcknowledgements"/> is lost.
/// </summary>
public sealed class RedisClusterFailoverTests(ITestOutputHelper output) : IDisposable
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
    }

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), port, Server, 53, "q"u8);

    private RedisNatTranslator Router(RedisCluster cluster, string prefix, int replicas, int shards)
    {
        var store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = cluster.Configuration, KeyPrefix = prefix, OperationTimeout = TimeSpan.FromMilliseconds(500), ReplicaAcknowledgements = replicas,
            Shards = shards,
        });
        _owned.Add(store);
        return new RedisNatTranslator(store);
    }

    /// <param name="shards">1: the table on one master, which is killed. 3: the table over every master, one of which is
    /// killed (while a slot has no master, the whole cluster refuses commands, as <c>cluster-require-full-coverage</c>
    /// wants by default).</param>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task A_killed_master_costs_new_flows_a_bounded_window_and_no_acknowledged_connection(int shards)
    {
        Skip.If(!RedisServer.IsInstalled, "redis-server is not installed (bash tests/run.sh installs it as root)");
        using var cluster = new RedisCluster();
        string prefix = "failover-" + Guid.NewGuid().ToString("N")[..8];
        var nat = Router(cluster, prefix, replicas: 1, shards);
        var acknowledged = new List<(byte[] Packet, ushort Port)>();
        for (int i = 0; i < 300; i++)
        {
            var packet = Udp(2 + i % 50, (ushort)(4000 + i));
            var added = await nat.AddNatAsync(packet, Public);
            Assert.Equal(NatAddStatus.Ok, added.Status);
            acknowledged.Add((packet, added.Connection.AllocatedPort));
        }

        // A second router on the same table that does not wait for replicas: once the master is gone, its replica,
        // promoted, has none of its own, so the first router refuses every new flow until a replica joins again —
        // durability chosen over availability. The second shows when the table is served again.
        var eager = Router(cluster, prefix, replicas: 0, shards);
        // The master of the table, or of the shard the new flows below (host 200) and the last check (host 201, or the
        // next host of that shard) belong to.
        var layout = new TableShards(prefix, shards);
        var killedShard = layout.OfHost(new Ipv4Address(0x0A4D0000u + 200));
        int lastHost = Enumerable.Range(201, 1000).First(h => ReferenceEquals(layout.OfHost(new Ipv4Address(0x0A4D0000u + (uint)h)), killedShard));
        int master = cluster.MasterOf((string)killedShard.Tag!);
        cluster.Kill(master);
        var killedAt = Stopwatch.StartNew();

        // New flows keep arriving every 20 ms: each is refused (store-unavailable) or added; a wrong answer is neither.
        int refused = 0, next = 10_000;
        TimeSpan? firstAdded = null;
        while (killedAt.Elapsed < TimeSpan.FromSeconds(60))
        {
            var added = await eager.AddNatAsync(Udp(200, (ushort)next++), Public);
            if (added.Status == NatAddStatus.Ok)
            {
                firstAdded = killedAt.Elapsed;
                break;
            }
            Assert.Equal(NatAddStatus.StoreUnavailable, added.Status);
            refused++;
            await Task.Delay(20);
        }
        Assert.True(firstAdded is not null, $"no add succeeded within 60 s of the master's death ({refused} refused)");
        output.WriteLine($"master killed; adds refused for {firstAdded!.Value.TotalMilliseconds:F0} ms ({refused} refused), then added again");
        Assert.True(firstAdded < TimeSpan.FromSeconds(20), $"the store took {firstAdded.Value.TotalSeconds:F1} s to recover");
        Assert.Equal(NatAddStatus.StoreUnavailable, (await nat.AddNatAsync(Udp(lastHost, 10_000), Public)).Status); // no replica left to acknowledge

        // Every acknowledged connection is on the promoted replica: a router that never saw them translates each to its port.
        var fresh = Router(cluster, prefix, replicas: 0, shards);
        foreach (var (packet, port) in acknowledged)
        {
            var copy = (byte[])packet.Clone();
            var result = await fresh.TranslateAsync(copy);
            Assert.True(result.IsTranslated, $"an acknowledged connection was lost: {result.Status}");
            Ipv4Packet.TryParse(copy, out var ip);
            Assert.Equal(port, ip.Udp.SourcePort);
        }
    }

    [SkippableFact]
    public async Task Asking_for_more_replicas_than_answer_is_not_an_acknowledgement()
    {
        Skip.If(!RedisServer.IsInstalled, "redis-server is not installed (bash tests/run.sh installs it as root)");
        using var single = new RedisServer(); // no replicas at all
        var store = new RedisNatStore(new RedisStoreOptions { Configuration = single.Configuration, KeyPrefix = "wait", ReplicaAcknowledgements = 1 });
        _owned.Add(store);

        var added = await new RedisNatTranslator(store).AddNatAsync(Udp(2, 4000), Public);

        Assert.Equal(NatAddStatus.StoreUnavailable, added.Status);
        Assert.True(store.IsAvailable); // Redis answered: it is not an outage
    }
}
