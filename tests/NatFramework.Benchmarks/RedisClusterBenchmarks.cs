using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Redis;
using NatFramework.Stores.Redis.Tests;

namespace NatFramework.Benchmarks;

/// <summary>
/// Three NAT tables (three key prefixes, as three sites or public addresses would have) on one redis-server against the
/// same three on a Redis Cluster of three masters (and three replicas), each table on a master of its own: connection
/// setup with 3 × 1,000 adds in flight, and batches of near-cache misses (every lookup asks Redis). One table is always
/// served by one master (its keys share a hash tag), so this is how the store scales out: by tables.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class RedisClusterBenchmarks
{
    private const int Tables = 3, AddsPerTable = 1_000, Flows = 1_024;
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    [Params("server", "cluster")]
    public string Redis { get; set; } = "server";

    private RedisServer? _server;
    private RedisCluster? _cluster;
    private RedisNatStore[] _stores = [];
    private RedisNatTranslator[] _nats = [];
    private byte[][] _batches = [], _pristine = [];
    private Range[] _ranges = [];
    private NatTranslateResult[][] _results = [];
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        string configuration;
        var prefixes = new List<string>();
        if (Redis == "server")
        {
            _server = new RedisServer();
            configuration = _server.Configuration;
            for (int t = 0; t < Tables; t++) prefixes.Add($"table{t}");
        }
        else
        {
            _cluster = new RedisCluster();
            configuration = _cluster.Configuration;
            // One table per master: take the first prefixes whose hash tags land on masters not used yet.
            var used = new HashSet<int>();
            for (int candidate = 0; prefixes.Count < Tables; candidate++)
                if (used.Add(_cluster.MasterOf("{table" + candidate + "}"))) prefixes.Add("table" + candidate);
        }
        _stores = prefixes.Select(p => new RedisNatStore(new RedisStoreOptions
        {
            Configuration = configuration, KeyPrefix = p, NearCacheCapacity = 0, OperationTimeout = TimeSpan.FromSeconds(5),
            UdpCapacity = 1_000_000,
        })).ToArray();
        _nats = _stores.Select(s => new RedisNatTranslator(s)).ToArray();
        // Established flows for the lookups: Flows per table, translated in one batch each.
        _batches = new byte[Tables][];
        _pristine = new byte[Tables][];
        _results = new NatTranslateResult[Tables][];
        int length = 0;
        for (int t = 0; t < Tables; t++)
        {
            var packets = Enumerable.Range(0, Flows).Select(i => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0002u + (uint)(i / 500)), (ushort)(2000 + i % 500),
                Ipv4Address.Parse("203.0.113.1"), 443, new byte[20])).ToArray();
            foreach (var packet in packets)
                if (!_nats[t].AddNatAsync(packet, Public).AsTask().GetAwaiter().GetResult().IsOk) throw new InvalidOperationException("setup");
            length = packets[0].Length;
            _pristine[t] = packets.SelectMany(p => p).ToArray();
            _batches[t] = (byte[])_pristine[t].Clone();
            _results[t] = new NatTranslateResult[Flows];
        }
        _ranges = Enumerable.Range(0, Flows).Select(i => new Range(i * length, (i + 1) * length)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var store in _stores) store.Dispose();
        _server?.Dispose();
        _cluster?.Dispose();
    }

    /// <summary>1,000 new flows per table, all 3,000 in flight at once; per connection.</summary>
    [Benchmark(OperationsPerInvoke = Tables * AddsPerTable, Description = "AddNat, 3 tables × 1,000 in flight")]
    public async Task ConnectionSetup()
    {
        int round = ++_round;
        var adds = new Task<NatAddResult>[Tables * AddsPerTable];
        for (int t = 0; t < Tables; t++)
            for (int i = 0; i < AddsPerTable; i++)
            {
                var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(round * 4 + t)), (ushort)(1024 + i),
                    new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
                adds[t * AddsPerTable + i] = _nats[t].AddNatAsync(packet, Public).AsTask();
            }
        foreach (var result in await Task.WhenAll(adds))
            if (!result.IsOk) throw new InvalidOperationException(result.Status.ToString());
    }

    /// <summary>One batch of 1,024 established flows per table, all three at once, no near cache; per packet.</summary>
    [Benchmark(OperationsPerInvoke = Tables * Flows, Description = "translate, 3 tables × 1,024 near-cache misses")]
    public async Task TranslateMisses()
    {
        var batches = new Task[Tables];
        for (int t = 0; t < Tables; t++)
        {
            // Translation rewrites the packets in place: start each round from the untranslated ones.
            _pristine[t].CopyTo(_batches[t], 0);
            batches[t] = _nats[t].TranslateBatchAsync(_batches[t].AsMemory(), _ranges, _results[t]).AsTask();
        }
        await Task.WhenAll(batches);
        foreach (var results in _results)
            if (!results[0].IsTranslated || !results[^1].IsTranslated) throw new InvalidOperationException("a lookup missed");
    }
}
