using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>Memory per connection of a full 1M-connection LRU table, everything included, measured from the GC heap.</summary>
public static class MemoryReport
{
    public static int Run()
    {
        const int connections = 1_000_000;
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var nat = LruNatTranslator.Create(new NatOptions { UdpCapacity = connections, TcpCapacity = 1, IcmpCapacity = 1 });
        for (int i = 0; i < connections; i++)
        {
            // The packet arrays are garbage by the time the heap is measured (a full collection runs first).
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A000000u + (uint)(i / 50_000) + 2), (ushort)(1024 + i % 50_000),
                new Ipv4Address(0xCB007100u + (uint)(i % 200) + 1), 443, []);
            if (!nat.AddNat(packet, publicAddress).IsOk) throw new InvalidOperationException("add failed");
        }
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"connections: {nat.Store.Count(NatProtocol.Udp):N0}");
        Console.WriteLine($"heap growth: {(after - before) / 1048576.0:F1} MiB");
        Console.WriteLine($"bytes per connection: {(double)(after - before) / connections:F1} (both directions, host index, recency)");
        GC.KeepAlive(nat);
        return 0;
    }
}
