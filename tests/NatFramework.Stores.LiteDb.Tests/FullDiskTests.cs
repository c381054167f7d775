using System.Diagnostics;
using NatFramework.Packets;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>A full disk, made real with a 1 MiB tmpfs the test mounts (root only) and removes afterwards.</summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly TableFile _file = new();
    private bool _mounted;

    public void Dispose()
    {
        if (_mounted) Run("umount", "-l", _file.Folder);
        _file.Dispose();
    }

    private static int Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }

    [SkippableFact]
    public void A_full_disk_fails_writes_visibly_keeps_translating_from_memory_and_retries()
    {
        Skip.IfNot(Environment.UserName == "root", "mounting a small tmpfs to fill needs root (CI runs as root)");
        _mounted = Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", _file.Folder) == 0;
        Skip.IfNot(_mounted, "could not mount a tmpfs here");

        var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, FlushInterval = TimeSpan.FromMilliseconds(50) });
        var nat = new LiteDbNatTranslator(store);
        Assert.True(nat.AddNat(Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 1, Ipv4Address.Parse("203.0.113.1"), 53, []), Ipv4Address.Parse("198.51.100.1")).IsOk);
        store.Flush();
        var ballast = Path.Combine(_file.Folder, "ballast");
        using (var fill = File.OpenWrite(ballast))
        {
            var block = new byte[4096];
            try { while (true) fill.Write(block); } catch (IOException) { } // the disk is full now
        }

        var packets = Enumerable.Range(0, 2000).Select(i => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)(i / 500) + 3), (ushort)(1024 + i % 500),
            Ipv4Address.Parse("203.0.113.1"), 53, [])).ToList();
        foreach (var packet in packets) Assert.True(nat.AddNat(packet, Ipv4Address.Parse("198.51.100.1")).IsOk);

        Assert.Throws<NatStoreUnavailableException>(store.Flush);
        Assert.True(store.WriteFailures > 0);
        Assert.All(packets, p => Assert.True(nat.Translate((byte[])p.Clone()).IsTranslated)); // memory still serves

        File.Delete(ballast);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                store.Flush();
                break;
            }
            catch (NatStoreUnavailableException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(100);
            }
        }
        store.Dispose();
        // A LiteDB transaction left open by the failed write would throw from its finalizer and end the process:
        // run the finalizers now, so that such a leak fails here rather than at a random later moment.
        GC.Collect();
        GC.WaitForPendingFinalizers();

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(2001, reopened.Count);
    }
}
