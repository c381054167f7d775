using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Redis;
using NatFramework.Stores.Redis.Tests;

namespace NatFramework.Benchmarks;

/// <summary>
/// One NAT table on a Redis Cluster of three masters (and three replicas), served by one master (<c>Shards = 1</c>: the
/// whole table under one hash tag) or spread over all three (<c>Shards = 3</c>): connection setup with 3,000 adds in
/// flight from 300 inside hosts, and batches of 3,072 near-cache misses (every lookup asks Redis; on the sharded table
/// each key is asked in both shards that may hold it).
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class RedisShardingBenchmarks
{
    private const int Adds = 3_000, Hosts = 300, Flows = 3_072;
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    [Params(1, 3)]
    public int Shards { get; set; } = 1;

    private RedisCluster? _cluster;
    private RedisNatStore? _store;
    private RedisNatTranslator? _nat;
    private byte[] _batch = [], _pristine = [];
    private Range[] _ranges = [];
    private NatTranslateResult[] _results = [];
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        _cluster = new RedisCluster();
        _store = new RedisNatStore(new RedisStoreOptions
        {
            Configuration = _cluster.Configuration, KeyPrefix = "sharded", Shards = Shards, NearCacheCapacity = 0,
            OperationTimeout = TimeSpan.FromSeconds(5), UdpCapacity = 1_000_000,
        });
        _nat = new RedisNatTranslator(_store);
        // Established flows for the lookups, from many inside hosts so that a sharded table has them in every shard.
        var packets = Enumerable.Range(0, Flows).Select(i => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0002u + (uint)(i % Hosts)), (ushort)(2000 + i / Hosts),
            Ipv4Address.Parse("203.0.113.1"), 443, new byte[20])).ToArray();
        foreach (var packet in packets)
            if (!_nat.AddNatAsync(packet, Public).AsTask().GetAwaiter().GetResult().IsOk) throw new InvalidOperationException("setup");
        int length = packets[0].Length;
        _pristine = packets.SelectMany(p => p).ToArray();
        _batch = (byte[])_pristine.Clone();
        _results = new NatTranslateResult[Flows];
        _ranges = Enumerable.Range(0, Flows).Select(i => new Range(i * length, (i + 1) * length)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.Dispose();
        _cluster?.Dispose();
    }

    /// <summary>3,000 new flows of 300 inside hosts, all in flight at once; per connection.</summary>
    [Benchmark(OperationsPerInvoke = Adds, Description = "AddNat, 3,000 in flight")]
    public async Task ConnectionSetup()
    {
        int round = ++_round;
        var adds = new Task<NatAddResult>[Adds];
        for (int i = 0; i < Adds; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(round * Hosts + i % Hosts)), (ushort)(1024 + i / Hosts),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            adds[i] = _nat!.AddNatAsync(packet, Public).AsTask();
        }
        foreach (var result in await Task.WhenAll(adds))
            if (!result.IsOk) throw new InvalidOperationException(result.Status.ToString());
    }

    /// <summary>One batch of 3,072 established flows, no near cache; per packet.</summary>
    [Benchmark(OperationsPerInvoke = Flows, Description = "translate, 3,072 near-cache misses")]
    public async Task TranslateMisses()
    {
        // Translation rewrites the packets in place: start each round from the untranslated ones.
        _pristine.CopyTo(_batch, 0);
        await _nat!.TranslateBatchAsync(_batch.AsMemory(), _ranges, _results);
        if (!_results[0].IsTranslated || !_results[^1].IsTranslated) throw new InvalidOperationException("a lookup missed");
    }
}
