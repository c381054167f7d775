using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using NatFramework.Packets;
using NatFramework.Stores.LiteDb;

namespace NatFramework.Benchmarks;

/// <summary>The LiteDB store: translation from its in-memory index, and connection setup with the background writer batching.</summary>
[Config(typeof(BenchmarkConfig))]
public class LiteDbBenchmarks
{
    private const int SetupsPerInvoke = 10_000;
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private string _folder = "";
    private LiteDbNatStore _store = null!;
    private LiteDbNatTranslator _nat = null!;
    private byte[][] _packets = [];
    private byte[] _work = [];
    private int _next;
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("natframework-bench-").FullName;
        _store = new LiteDbNatStore(new LiteDbStoreOptions { Path = Path.Combine(_folder, "nat.db") });
        _nat = new LiteDbNatTranslator(_store);
        _packets = Enumerable.Range(0, 1000).Select(i => Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), (ushort)(2000 + i), Ipv4Address.Parse("203.0.113.1"), 443, new byte[20])).ToArray();
        foreach (var packet in _packets)
            if (!_nat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup");
        _work = new byte[_packets[0].Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Description = "translate, established flow (1,000 flows)")]
    public NatTranslateResult TranslateEstablished()
    {
        _packets[_next++ % _packets.Length].CopyTo(_work, 0);
        return _nat.Translate(_work);
    }

    /// <summary>10,000 AddNat calls of new flows; the writer commits them in the background every 100 ms.</summary>
    [Benchmark(OperationsPerInvoke = SetupsPerInvoke, Description = "AddNat, batched writes")]
    public void ConnectionSetup()
    {
        int round = ++_round;
        for (int i = 0; i < SetupsPerInvoke; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)round), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            if (!_nat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("add failed");
        }
    }
}

/// <summary>Opening a table file that holds 1,000,000 connections (target ≤ 10 s).</summary>
[Config(typeof(BenchmarkConfig))]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class LiteDbReopenBenchmarks
{
    private string _folder = "";
    private string _path = "";

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("natframework-bench-").FullName;
        _path = Path.Combine(_folder, "nat.db");
        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _path, UdpCapacity = 1_100_000, DurabilityWindow = TimeSpan.FromSeconds(60), FlushInterval = TimeSpan.FromSeconds(10) });
        var nat = new LiteDbNatTranslator(store);
        for (int i = 0; i < 1_000_000; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            if (!nat.AddNat(packet, Ipv4Address.Parse("198.51.100.1")).IsOk) throw new InvalidOperationException("setup");
        }
        store.Flush();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Description = "open a 1M-connection table file")]
    public int Reopen()
    {
        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _path, UdpCapacity = 1_100_000 });
        return store.Count == 1_000_000 ? store.Count : throw new InvalidOperationException($"loaded {store.Count}");
    }
}
