using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>
/// The first packet of a new UDP flow on the generated LRU translator, into a full table (every new connection evicts
/// one, as under steady churn): through <c>Translate</c> with a policy (lookup-or-create in one call; with
/// endpoint-independent mapping, the default, and with five-tuple mapping) against the manual path a host drove before
/// policies — <c>AddNat</c> then <c>Translate</c>, and that pair after the <c>Translate</c> miss that found the flow new. Each invocation creates 1024 flows, each packet first copied from a
/// pristine copy (<see cref="CopyOnly"/> measures that copy alone).
/// </summary>
/// <remarks>
/// The pristine first packets are distinct flows laid out in the order they are used, twice as many as the table holds,
/// so a flow comes round again only long after it was evicted. Every method sees the same packets from the same
/// place in the ring and the same table state in steady churn.
/// </remarks>
[Config(typeof(BenchmarkConfig))]
public class NewFlowBenchmarks
{
    private const int Batch = 1024;
    private const int PacketLength = 48; // 20 IP + 8 UDP + 20 payload
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    [Params(1_000, 1_000_000)]
    public int Flows { get; set; }

    private LruNatTranslator _byPolicy = null!;
    private LruNatTranslator _byFiveTuplePolicy = null!;
    private LruNatTranslator _byHand = null!;
    private byte[] _firstPackets = [];
    private int _count;
    private int _cursor;
    private readonly byte[] _packet = new byte[PacketLength];

    [GlobalSetup]
    public void Setup()
    {
        var policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.0.0.0/8"), Public)] };
        _byPolicy = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows, Policy = policy });
        _byFiveTuplePolicy = LruNatTranslator.Create(new NatOptions
        {
            UdpCapacity = Flows,
            Policy = policy with { UdpMapping = NatMappingBehavior.AddressAndPortDependent, UdpFiltering = NatFilteringBehavior.AddressAndPortDependent },
        });
        _byHand = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows });
        _count = Math.Max(2 * Flows, Batch * 64);
        _firstPackets = new byte[_count * PacketLength];
        var payload = new byte[20];
        for (int i = 0; i < _count; i++)
        {
            var inside = new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2);
            var server = new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1);
            Ipv4PacketBuilder.Udp(inside, (ushort)(1024 + i % 50_000), server, 443, payload).CopyTo(_firstPackets, i * PacketLength);
        }
        // Fill both tables, so that every measured creation evicts as it would in a full table under churn.
        for (int i = 0; i < Flows; i++)
        {
            var packet = Next();
            if (!_byPolicy.Translate(Copy(packet)).Created) throw new InvalidOperationException("setup: not created");
            if (!_byFiveTuplePolicy.Translate(Copy(packet)).Created) throw new InvalidOperationException("setup: not created");
            if (!_byHand.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup: not added");
        }
    }

    private ReadOnlySpan<byte> Next()
    {
        var packet = _firstPackets.AsSpan(_cursor * PacketLength, PacketLength);
        _cursor = (_cursor + 1) % _count;
        return packet;
    }

    private Span<byte> Copy(ReadOnlySpan<byte> pristine)
    {
        pristine.CopyTo(_packet);
        return _packet;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "copy only (baseline)")]
    public int CopyOnly()
    {
        int sum = 0;
        for (int i = 0; i < Batch; i++) sum += Copy(Next())[9];
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "Translate with a policy (lookup-or-create)")]
    public int TranslateCreates()
    {
        int created = 0;
        for (int i = 0; i < Batch; i++)
            if (_byPolicy.Translate(Copy(Next())).Created) created++;
        return Check(created);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "Translate with a policy, five-tuple mapping")]
    public int TranslateCreatesFiveTuple()
    {
        int created = 0;
        for (int i = 0; i < Batch; i++)
            if (_byFiveTuplePolicy.Translate(Copy(Next())).Created) created++;
        return Check(created);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "AddNat + Translate")]
    public int AddNatThenTranslate()
    {
        int translated = 0;
        for (int i = 0; i < Batch; i++)
        {
            var pristine = Next();
            if (_byHand.AddNat(pristine, Public).IsOk && _byHand.Translate(Copy(pristine)).IsTranslated) translated++;
        }
        return Check(translated);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "Translate miss + AddNat + Translate")]
    public int MissThenAddNatThenTranslate()
    {
        int translated = 0;
        for (int i = 0; i < Batch; i++)
        {
            var pristine = Next();
            if (_byHand.Translate(Copy(pristine)).IsTranslated) continue; // never: every flow is new
            if (_byHand.AddNat(pristine, Public).IsOk && _byHand.Translate(Copy(pristine)).IsTranslated) translated++;
        }
        return Check(translated);
    }

    private static int Check(int done) => done == Batch ? done : throw new InvalidOperationException($"only {done} of {Batch} new flows translated");
}
