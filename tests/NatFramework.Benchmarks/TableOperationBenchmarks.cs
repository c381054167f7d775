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
    private const int HostsPerInvoke = 20; // one removal is ≈ 0.1 ms: twenty per iteration keep the timer's and the setup's noise out
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private LruNatTranslator _setupNat = null!;
    private byte[][] _setupPackets = [];
    private LruNatTranslator _removalNat = null!;
    private byte[][][] _hostPackets = [];
    private Ipv4Address[] _hosts = [];

    [GlobalSetup]
    public void Setup()
    {
        _setupNat = LruNatTranslator.Create(new NatOptions { UdpCapacity = SetupsPerInvoke });
        _setupPackets = Enumerable.Range(0, SetupsPerInvoke).Select(i =>
            // Destinations vary: one public address has only ~64k ports towards any one destination endpoint.
            Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 40_000) + 2), (ushort)(1024 + i % 40_000), new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, [])).ToArray();

        _removalNat = LruNatTranslator.Create(new NatOptions { UdpCapacity = 1_100_000 });
        for (int i = 0; i < 1_000_000 - HostsPerInvoke * HostConnections; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            if (!_removalNat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup");
        }
        _hosts = Enumerable.Range(0, HostsPerInvoke).Select(h => new Ipv4Address(0x0A630002u + (uint)h)).ToArray(); // 10.99.0.2 …
        _hostPackets = _hosts.Select(host => Enumerable.Range(0, HostConnections)
            .Select(i => Ipv4PacketBuilder.Udp(host, (ushort)(2000 + i), Ipv4Address.Parse("203.0.113.9"), 443, [])).ToArray()).ToArray();
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
        // Host by host, so each host's entries lie together, as a host's connections made over time would not: the walk
        // of its list is cheap here, the slots and indexes are not.
        foreach (var packets in _hostPackets)
            foreach (var packet in packets)
                if (!_removalNat.AddNat(packet, Public).IsOk) throw new InvalidOperationException("setup");
    }

    /// <summary>RemoveConnections of a host with 1,000 connections in a table of 1,000,000 (twenty hosts one after another; per host).</summary>
    [Benchmark(OperationsPerInvoke = HostsPerInvoke, Description = "RemoveConnections, 1,000 of 1,000,000")]
    public int RemoveHostConnections()
    {
        int total = 0;
        foreach (var host in _hosts)
        {
            int removed = _removalNat.RemoveConnections(host).Connections.Count;
            total += removed == HostConnections ? removed : throw new InvalidOperationException($"removed {removed}");
        }
        return total;
    }
}
