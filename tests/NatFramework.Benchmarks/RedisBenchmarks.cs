using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Redis;
using NatFramework.Stores.Redis.Tests;

namespace NatFramework.Benchmarks;

/// <summary>
/// The Redis store against a private local redis-server: translation of established flows from the near cache
/// (compare with the LRU figure), and connection setup with many adds in flight (pipelined on one connection).
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class RedisBenchmarks
{
    private const int Flows = 1_000;
    private const int SetupsPerInvoke = 2_000;
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private RedisServer _server = null!;
    private RedisNatStore _store = null!;
    private RedisNatTranslator _nat = null!;
    private byte[][] _packets = [];
    private byte[] _work = [];
    private int _next;
    private int _round;

    [GlobalSetup]
    public void Setup()
    {
        _server = new RedisServer();
        if (_server.Executable is null) throw new InvalidOperationException("redis-server is not installed");
        _store = new RedisNatStore(new RedisStoreOptions { Configuration = _server.Configuration, KeyPrefix = "bench" });
        _nat = new RedisNatTranslator(_store);
        _packets = Enumerable.Range(0, Flows).Select(i => Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), (ushort)(2000 + i),
            Ipv4Address.Parse("203.0.113.1"), 443, new byte[20])).ToArray();
        foreach (var packet in _packets)
            if (!_nat.AddNatAsync(packet, Public).AsTask().GetAwaiter().GetResult().IsOk) throw new InvalidOperationException("setup");
        _work = new byte[_packets[0].Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _server.Dispose();
    }

    /// <summary>An established flow's packet, found in the near cache (no round trip).</summary>
    [Benchmark(Description = "translate, established flow (near cache)")]
    public NatTranslateResult TranslateEstablished()
    {
        _packets[_next++ % Flows].CopyTo(_work, 0);
        return _nat.TranslateAsync(_work).GetAwaiter().GetResult();
    }

    /// <summary>2,000 AddNat calls of new flows, all in flight at once; per connection.</summary>
    [Benchmark(OperationsPerInvoke = SetupsPerInvoke, Description = "AddNat, 2,000 in flight (pipelined)")]
    public async Task ConnectionSetup()
    {
        int round = ++_round;
        var adds = new Task<NatAddResult>[SetupsPerInvoke];
        for (int i = 0; i < SetupsPerInvoke; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)round), (ushort)(1024 + i),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            adds[i] = _nat.AddNatAsync(packet, Public).AsTask();
        }
        foreach (var result in await Task.WhenAll(adds))
            if (!result.IsOk) throw new InvalidOperationException(result.Status.ToString());
    }
}
