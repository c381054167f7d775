using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;
using NatFramework.Translation;

namespace NatFramework.Benchmarks;

/// <summary>The steps of translating one packet of an established flow (1,000 flows, cache-resident), each alone.</summary>
[Config(typeof(BenchmarkConfig))]
public class TranslateStepBenchmarks
{
    private LruNatTranslator _nat = null!;
    private byte[] _packet = [];
    private byte[] _work = [];
    private FlowKey _key;
    private NatClock _clock = new();

    [GlobalSetup]
    public void Setup()
    {
        _nat = LruNatTranslator.Create();
        for (int i = 0; i < 1000; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), (ushort)(2000 + i), Ipv4Address.Parse("203.0.113.1"), 443, new byte[20]);
            _nat.AddNat(packet, Ipv4Address.Parse("198.51.100.1"));
            if (i == 500) _packet = packet;
        }
        _work = new byte[_packet.Length];
        Ipv4Packet.TryParse(_packet, out var ip);
        FlowKey.TryRead(ip, out _key);
    }

    [Benchmark(Description = "clock read")]
    public long Clock() => _clock.NowMilliseconds;

    [Benchmark(Description = "plan (parse + classify)")]
    public PacketPlan Plan() => PacketPlanner.Plan(_packet);

    [Benchmark(Description = "store lookup")]
    public bool Lookup() => _nat.Store.TryLookup(_key, ExpiryCutoffs.Never, out _);

    [Benchmark(Description = "copy + translate")]
    public NatTranslateResult Translate()
    {
        _packet.CopyTo(_work, 0);
        return _nat.Translate(_work);
    }
}
