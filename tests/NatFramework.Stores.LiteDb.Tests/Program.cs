using NatFramework.Packets;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>
/// The child process of the crash test: adds connections to a table file as fast as it can, printing each one the
/// moment its add returned, until it is killed.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["child-writer", var path]) return 2;
        var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = path });
        var nat = new LiteDbNatTranslator(store);
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        for (int i = 0; ; i++)
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)(i / 1000) + 2), (ushort)(1024 + i % 1000), Ipv4Address.Parse("203.0.113.1"), 53, []);
            if (!nat.AddNat(packet, publicAddress).IsOk) return 3;
            Console.Out.WriteLine($"{i} {Environment.TickCount64}");
            Console.Out.Flush();
            Thread.Sleep(1);
        }
    }
}
