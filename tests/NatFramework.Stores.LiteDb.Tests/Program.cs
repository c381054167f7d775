using System.Diagnostics;
using NatFramework.Packets;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>
/// Child processes of the LiteDB tests (the test assembly is also a console program):
/// <c>child-writer PATH ADDS_PER_SECOND</c> adds connections (0: as fast as it can), printing each one with the
/// <see cref="Stopwatch"/> time its add returned, until it is killed; <c>child-open PATH [move-aside]</c> opens the
/// store once and prints what happened, for the permission tests that run it as another user.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => args switch
    {
        ["child-writer", var path, var rate] => Writer(path, int.Parse(rate, System.Globalization.CultureInfo.InvariantCulture)),
        ["child-open", var path, ..] => OpenOnce(path, moveAside: args.Contains("move-aside")),
        _ => 2,
    };

    /// <summary>The packet of the <paramref name="index"/>-th connection the writer adds.</summary>
    public static byte[] WriterPacket(int index)
        => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)(index / 50_000) + 2), (ushort)(1024 + index % 50_000), Ipv4Address.Parse("203.0.113.1"), 53, []);

    private static int Writer(string path, int addsPerSecond)
    {
        var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = path, UdpCapacity = 10_000_000 });
        var nat = new LiteDbNatTranslator(store, new NatOptions { UdpCapacity = 10_000_000 });
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
        long interval = addsPerSecond > 0 ? Stopwatch.Frequency / addsPerSecond : 0;
        long next = Stopwatch.GetTimestamp();
        for (int i = 0; ; i++)
        {
            var added = nat.AddNat(WriterPacket(i), publicAddress);
            long at = Stopwatch.GetTimestamp();
            // Only acknowledged adds are printed: an add refused with StoreUnavailable (backpressure) promised nothing.
            if (added.IsOk)
            {
                output.Write(i);
                output.Write(' ');
                output.WriteLine(at);
                output.Flush();
            }
            else if (added.Status != NatAddStatus.StoreUnavailable) return 3;
            if (interval > 0)
            {
                next += interval;
                while (Stopwatch.GetTimestamp() < next) Thread.Sleep(0);
            }
        }
    }

    private static int OpenOnce(string path, bool moveAside)
    {
        try
        {
            using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = path, MoveAsideCorruptFile = moveAside });
            Console.WriteLine($"opened {store.Count}");
        }
        catch (Exception e)
        {
            Console.WriteLine($"{e.GetType().Name}: {e.Message}");
        }
        return 0;
    }
}
