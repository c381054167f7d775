using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>
/// The generated LRU translator on packets of established flows, outbound and inbound. Flows are visited in a
/// precomputed random order, so at a million flows every packet pays the table's cache misses. Each invocation
/// translates a batch of 1024 packets, one at a time or through the batch path; each packet is first copied from a
/// pristine copy (translation rewrites it in place) — <see cref="CopyOnly"/> measures that copy alone.
/// </summary>
/// <remarks>
/// The pristine packets are laid out in the order they are visited, so the copy reads memory front to back, as a
/// router reads packets from its receive buffer (copied from each flow's place in a per-flow array instead, at a
/// million flows the copy would itself be a random miss, not the table's).
/// </remarks>
[Config(typeof(BenchmarkConfig))]
public class TranslateBenchmarks
{
    private const int Batch = 1024;
    private const int PacketLength = 48; // 20 IP + 8 UDP + 20 payload

    [Params(1_000, 1_000_000)]
    public int Flows { get; set; }

    private LruNatTranslator _nat = null!;
    private byte[] _outbound = [];
    private byte[] _inbound = [];
    private int _visits;
    private int _cursor;
    private byte[] _batch = [];
    private Range[] _ranges = [];
    private NatTranslateResult[] _results = [];

    [GlobalSetup]
    public void Setup()
    {
        var options = new NatOptions { UdpCapacity = Flows + Flows / 4 };
        _nat = LruNatTranslator.Create(options);
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        var outbound = new byte[Flows * PacketLength];
        var inbound = new byte[Flows * PacketLength];
        var payload = new byte[20];
        for (int i = 0; i < Flows; i++)
        {
            var inside = new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2);
            var server = new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1);
            var packet = Ipv4PacketBuilder.Udp(inside, (ushort)(1024 + i % 50_000), server, 443, payload);
            var added = _nat.AddNat(packet, publicAddress);
            if (!added.IsOk) throw new InvalidOperationException($"setup: {added.Status}");
            packet.CopyTo(outbound, i * PacketLength);
            Ipv4PacketBuilder.Udp(server, 443, publicAddress, added.Connection.AllocatedPort, payload).CopyTo(inbound, i * PacketLength);
        }
        var random = new Random(42);
        _visits = Math.Max(Flows, Batch * 64);
        _outbound = new byte[_visits * PacketLength];
        _inbound = new byte[_visits * PacketLength];
        for (int v = 0; v < _visits; v++)
        {
            int flow = random.Next(Flows);
            outbound.AsSpan(flow * PacketLength, PacketLength).CopyTo(_outbound.AsSpan(v * PacketLength));
            inbound.AsSpan(flow * PacketLength, PacketLength).CopyTo(_inbound.AsSpan(v * PacketLength));
        }
        _batch = new byte[Batch * PacketLength];
        _ranges = Enumerable.Range(0, Batch).Select(i => new Range(i * PacketLength, (i + 1) * PacketLength)).ToArray();
        _results = new NatTranslateResult[Batch];
    }

    private int NextStart()
    {
        int start = _cursor;
        _cursor = (_cursor + Batch) % (_visits - Batch);
        return start;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "copy only (baseline)")]
    public void CopyOnly()
    {
        int start = NextStart();
        for (int i = 0; i < Batch; i++)
            _outbound.AsSpan((start + i) * PacketLength, PacketLength).CopyTo(_batch.AsSpan(i * PacketLength));
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "one at a time, outbound")]
    public int OneAtATimeOutbound() => OneAtATime(_outbound);

    [Benchmark(OperationsPerInvoke = Batch, Description = "one at a time, inbound")]
    public int OneAtATimeInbound() => OneAtATime(_inbound);

    [Benchmark(OperationsPerInvoke = Batch, Description = "batch, outbound")]
    public int BatchOutbound() => InBatch(_outbound);

    [Benchmark(OperationsPerInvoke = Batch, Description = "batch, inbound")]
    public int BatchInbound() => InBatch(_inbound);

    private int OneAtATime(byte[] source)
    {
        int start = NextStart(), translated = 0;
        var packet = _batch.AsSpan(0, PacketLength);
        for (int i = 0; i < Batch; i++)
        {
            source.AsSpan((start + i) * PacketLength, PacketLength).CopyTo(packet);
            if (_nat.Translate(packet).IsTranslated) translated++;
        }
        return Check(translated);
    }

    private int InBatch(byte[] source)
    {
        int start = NextStart();
        for (int i = 0; i < Batch; i++)
            source.AsSpan((start + i) * PacketLength, PacketLength).CopyTo(_batch.AsSpan(i * PacketLength));
        _nat.TranslateBatch(_batch, _ranges, _results);
        int translated = 0;
        foreach (var result in _results) if (result.IsTranslated) translated++;
        return Check(translated);
    }

    private static int Check(int translated) => translated == Batch ? translated : throw new InvalidOperationException($"only {translated} of {Batch} translated");
}
