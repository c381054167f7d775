using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>
/// The first packet of a new UDP flow on the generated LRU translator, into a full table (every new connection evicts
/// one, as under steady churn): through <c>Translate</c> with a policy (lookup-or-create in one call) against the manual
/// path a host drove before policies — <c>AddNat</c> then <c>Translate</c>, and that pair after the <c>Translate</c>
/// miss that found the flow new — and, on flows of fewer inside endpoints, endpoint-independent mapping against
/// five-tuple mapping. Each invocation creates 1024 flows, each packet first copied from a pristine copy
/// (<see cref="CopyOnly"/> measures that copy alone).
/// </summary>
/// <remarks>
/// The pristine first packets are distinct flows laid out in the order they are used, twice as many as the table holds,
/// so a flow comes round again only long after it was evicted. Every method sees the same packets from the same
/// place in the ring and the same table state in steady churn. In the first ring every flow has an inside endpoint of
/// its own (five-tuple mapping only: a million endpoints cannot each hold one of a public address's 64,512 ports); in
/// the second, 50,000 inside endpoints each talk to 40 servers in turn, so in a table of a million flows an endpoint's
/// new flow joins its live mapping, and in a table of 1,000 it finds its mapping gone and makes a new one.
/// </remarks>
[Config(typeof(BenchmarkConfig))]
public class NewFlowBenchmarks
{
    private const int Batch = 1024;
    private const int PacketLength = 48; // 20 IP + 8 UDP + 20 payload
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    [Params(1_000, 1_000_000)]
    public int Flows { get; set; }

    private const int Endpoints = 50_000;

    private LruNatTranslator _byFiveTuplePolicy = null!;
    private LruNatTranslator _byHand = null!;
    private LruNatTranslator _byEndpoint = null!;
    private LruNatTranslator _byEndpointFiveTuple = null!;
    private byte[] _firstPackets = [];
    private byte[] _endpointPackets = [];
    private int _count;
    private int _cursor;
    private int _endpointCursor;
    private readonly byte[] _packet = new byte[PacketLength];

    [GlobalSetup]
    public void Setup()
    {
        var policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.0.0.0/8"), Public)] };
        var fiveTuple = policy with { UdpMapping = NatMappingBehavior.AddressAndPortDependent, UdpFiltering = NatFilteringBehavior.AddressAndPortDependent };
        _byFiveTuplePolicy = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows, Policy = fiveTuple });
        _byHand = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows });
        _byEndpoint = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows, Policy = policy });
        _byEndpointFiveTuple = LruNatTranslator.Create(new NatOptions { UdpCapacity = Flows, Policy = fiveTuple });
        _count = Math.Max(2 * Flows, Batch * 64);
        _firstPackets = new byte[_count * PacketLength];
        var payload = new byte[20];
        for (int i = 0; i < _count; i++)
        {
            var inside = new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2);
            var server = new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1);
            Ipv4PacketBuilder.Udp(inside, (ushort)(1024 + i % 50_000), server, 443, payload).CopyTo(_firstPackets, i * PacketLength);
        }
        _endpointPackets = new byte[_count * PacketLength];
        for (int i = 0; i < _count; i++)
        {
            int endpoint = i % Endpoints;
            var inside = new Ipv4Address(0x0A000000u + (uint)(endpoint / 25_000) + 2);
            var server = new Ipv4Address(0xCB007100u + (uint)(i / Endpoints % 40) + 1);
            Ipv4PacketBuilder.Udp(inside, (ushort)(1024 + endpoint % 25_000), server, (ushort)(443 + i / Endpoints / 40), payload)
                .CopyTo(_endpointPackets, i * PacketLength);
        }
        // Fill both tables, so that every measured creation evicts as it would in a full table under churn.
        for (int i = 0; i < Flows; i++)
        {
            var packet = Next();
            if (!_byFiveTuplePolicy.Translate(Copy(packet)).Created) throw new InvalidOperationException("setup: not created");
            if (!_byHand.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup: not added");
            var endpointPacket = NextOfEndpoints();
            if (!_byEndpoint.Translate(Copy(endpointPacket)).Created) throw new InvalidOperationException("setup: not created");
            if (!_byEndpointFiveTuple.Translate(Copy(endpointPacket)).Created) throw new InvalidOperationException("setup: not created");
        }
    }

    private ReadOnlySpan<byte> NextOfEndpoints()
    {
        var packet = _endpointPackets.AsSpan(_endpointCursor * PacketLength, PacketLength);
        _endpointCursor = (_endpointCursor + 1) % _count;
        return packet;
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

    [Benchmark(OperationsPerInvoke = Batch, Description = "50,000 endpoints: Translate, endpoint-independent mapping")]
    public int TranslateCreatesEndpointIndependent()
    {
        int created = 0;
        for (int i = 0; i < Batch; i++)
            if (_byEndpoint.Translate(Copy(NextOfEndpoints())).Created) created++;
        return Check(created);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "50,000 endpoints: Translate, five-tuple mapping")]
    public int TranslateCreatesEndpointFiveTuple()
    {
        int created = 0;
        for (int i = 0; i < Batch; i++)
            if (_byEndpointFiveTuple.Translate(Copy(NextOfEndpoints())).Created) created++;
        return Check(created);
    }
}
