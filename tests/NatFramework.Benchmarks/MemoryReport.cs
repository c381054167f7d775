using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>Memory per connection of a full 1M-connection LRU table, everything included, measured from the GC heap.</summary>
public static class MemoryReport
{
    private const int Connections = 1_000_000;

    public static int Run()
    {
        // Five-tuple connections (mirage-nat's model, no policy): 20 hosts × 50,000 ports, 200 servers.
        Measure("five-tuple connections (no policy)", new NatOptions { UdpCapacity = Connections, TcpCapacity = 1, IcmpCapacity = 1 },
            i => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []));

        // Endpoint-independent mappings (a policy's default): 50,000 inside endpoints, each talking to 20 servers, so the
        // mapping index holds 50,000 mappings and a million (mapping, server) counts. One public address has 64,512
        // ports, so a million connections cannot be a million mappings.
        Measure("endpoint-independent mappings, 20 connections each", new NatOptions
            {
                UdpCapacity = Connections, TcpCapacity = 1, IcmpCapacity = 1,
                Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.0.0.0/8"), Ipv4Address.Parse("198.51.100.1"))] },
            },
            i => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 20 / 25_000) + 2), (ushort)(1024 + i / 20 % 25_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 20) + 1), 443, []));
        return 0;
    }

    private static void Measure(string what, NatOptions options, Func<int, byte[]> packetOf)
    {
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var nat = LruNatTranslator.Create(options);
        for (int i = 0; i < Connections; i++)
        {
            // The packet arrays are garbage by the time the heap is measured (a full collection runs first).
            if (!nat.AddNat(packetOf(i), publicAddress).IsOk) throw new InvalidOperationException($"add {i} failed");
        }
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"{what}: {nat.Store.Count(NatProtocol.Udp):N0} connections, heap growth {(after - before) / 1048576.0:F1} MiB, " +
            $"{(double)(after - before) / Connections:F1} bytes per connection (both directions, host index, recency, mappings)");
        GC.KeepAlive(nat);
    }
}
