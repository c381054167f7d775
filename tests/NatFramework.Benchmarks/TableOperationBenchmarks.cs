using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>Connection setup (AddNat with a free port, both directions) and RemoveConnections of one host in a 1M table.</summary>
[Config(typeof(BenchmarkConfig))]
public class TableOperationBenchmarks
{
    private const int SetupsPerInvoke = 100_000;
    private const int HostConnections = 1_000;
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private LruNatTranslator _setupNat = null!;
    private byte[][] _setupPackets = [];
    private LruNatTranslator _removalNat = null!;
    private byte[][] _hostPackets = [];
    private readonly Ipv4Address _host = Ipv4Address.Parse("10.99.0.2");

    [GlobalSetup]
    public void Setup()
    {
        _setupNat = LruNatTranslator.Create(new NatOptions { UdpCapacity = SetupsPerInvoke });
        _setupPackets = Enumerable.Range(0, SetupsPerInvoke).Select(i =>
            // Destinations vary: one public address has only ~64k ports towards any one destination endpoint.
            Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 40_000) + 2), (ushort)(1024 + i % 40_000), new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, [])).ToArray();

        _removalNat = LruNatTranslator.Create(new NatOptions { UdpCapacity = 1_100_000 });
        for (int i = 0; i < 1_000_000 - HostConnections; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            if (!_removalNat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup");
        }
        _hostPackets = Enumerable.Range(0, HostConnections).Select(i => Ipv4PacketBuilder.Udp(_host, (ushort)(2000 + i), Ipv4Address.Parse("203.0.113.9"), 443, [])).ToArray();
    }

    [IterationSetup(Target = nameof(ConnectionSetup))]
    public void ClearSetupTable() => _setupNat.Reset();

    /// <summary>100,000 AddNat calls into an empty table (fresh flows, port preservation, both directions written).</summary>
    [Benchmark(OperationsPerInvoke = SetupsPerInvoke, Description = "AddNat, free port, both directions")]
    public void ConnectionSetup()
    {
        foreach (var packet in _setupPackets)
            if (!_setupNat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("add failed");
    }

    [IterationSetup(Target = nameof(RemoveHostConnections))]
    public void AddHostConnections()
    {
        foreach (var packet in _hostPackets)
            if (!_removalNat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup");
    }

    /// <summary>RemoveConnections of a host with 1,000 connections in a table of 1,000,000.</summary>
    [Benchmark(Description = "RemoveConnections, 1,000 of 1,000,000")]
    public int RemoveHostConnections()
    {
        int removed = _removalNat.RemoveConnections(_host).Connections.Count;
        return removed == HostConnections ? removed : throw new InvalidOperationException($"removed {removed}");
    }
}
