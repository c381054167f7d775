using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>
/// Two threads translating at once against one LRU table (lock-free reads): the same total work split over one or
/// two threads. On 2 cores, scaling shows as the 2-thread time per packet approaching half the 1-thread time.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class ScalingBenchmarks
{
    private const int PacketsPerInvoke = 1 << 20;
    private const int Flows = 100_000;
    private const int PacketLength = 48;

    [Params(1, 2)]
    public int Threads { get; set; }

    private LruNatTranslator _nat = null!;
    private byte[] _packets = [];

    [GlobalSetup]
    public void Setup()
    {
        _nat = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows * 2 });
        _packets = new byte[Flows * PacketLength];
        for (int i = 0; i < Flows; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, new byte[20]);
            if (!_nat.AddNat(packet, Ipv4Address.Parse("198.51.100.1")).IsOk) throw new InvalidOperationException("setup");
            packet.CopyTo(_packets, i * PacketLength);
        }
    }

    [Benchmark(OperationsPerInvoke = PacketsPerInvoke, Description = "translate, 100k flows, work split over threads")]
    public void Translate()
    {
        if (Threads == 1)
        {
            Work(0, PacketsPerInvoke);
            return;
        }
        var other = new Thread(() => Work(1, PacketsPerInvoke / 2));
        other.Start();
        Work(2, PacketsPerInvoke / 2);
        other.Join();
    }

    private void Work(int seed, int count)
    {
        Span<byte> packet = stackalloc byte[PacketLength];
        uint state = (uint)seed * 2654435761u + 1;
        for (int i = 0; i < count; i++)
        {
            state = state * 1664525u + 1013904223u;
            int flow = (int)(state % Flows);
            _packets.AsSpan(flow * PacketLength, PacketLength).CopyTo(packet);
            if (!_nat.Translate(packet).IsTranslated) throw new InvalidOperationException("untranslated");
        }
    }
}
