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

    /// <summary>
    /// This process's open descriptors on files in <paramref name="folder"/> (other tests running in parallel open files
    /// elsewhere), the fewest seen over 120 ms: a retry in progress holds the file open for a moment, a leaked engine for
    /// good, so only the minimum over more than two retry intervals says whether engines leak.
    /// </summary>
    private static int DescriptorsInto(string folder)
    {
        int fewest = int.MaxValue;
        for (int sample = 0; sample < 12; sample++)
        {
            fewest = Math.Min(fewest, DescriptorsNowInto(folder));
            Thread.Sleep(10);
        }
        return fewest;
    }

    private static int DescriptorsNowInto(string folder)
    {
        int count = 0;
        foreach (var descriptor in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(descriptor).LinkTarget is { } target && target.StartsWith(folder + "/", StringComparison.Ordinal)) count++;
            }
            catch (IOException) { } // closed while we looked
        }
        return count;
    }

    [SkippableFact]
    public void A_full_disk_fails_writes_visibly_refuses_new_connections_keeps_translating_and_recovers()
    {
        Skip.IfNot(Environment.UserName == "root", "mounting a small tmpfs to fill needs root (CI runs as root)");
        _mounted = Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", _file.Folder) == 0;
        Skip.IfNot(_mounted, "could not mount a tmpfs here");

        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, FlushInterval = TimeSpan.FromMilliseconds(50) });
        var nat = new LiteDbNatTranslator(store);
        var first = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 1, Ipv4Address.Parse("203.0.113.1"), 53, []);
        Assert.True(nat.AddNat(first, publicAddress).IsOk);
        store.Flush();
        var ballast = Path.Combine(_file.Folder, "ballast");
        using (var fill = File.OpenWrite(ballast))
        {
            var block = new byte[4096];
            try { while (true) fill.Write(block); } catch (IOException) { } // the disk is full now
        }

        // Adds go on until the writer has failed once; from then on every add is refused at once (it could not be kept).
        var packets = Enumerable.Range(0, 2000).Select(i => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)(i / 500) + 3), (ushort)(1024 + i % 500),
            Ipv4Address.Parse("203.0.113.1"), 53, [])).ToList();
        var acknowledged = new List<byte[]> { first };
        var refused = 0;
        var clock = Stopwatch.StartNew();
        foreach (var packet in packets)
        {
            var added = nat.AddNat(packet, publicAddress);
            if (added.IsOk) acknowledged.Add(packet);
            else
            {
                Assert.Equal(NatAddStatus.StoreUnavailable, added.Status);
                refused++;
            }
            if (refused == 0) Thread.Sleep(1); // give the writer its chance to fail
        }

        Assert.True(refused > 0, "no add was refused while the disk was full");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"refusing took {clock.Elapsed}: a failing file must refuse at once, not wait per add");
        Assert.Throws<NatStoreUnavailableException>(store.Flush);
        Assert.True(store.WriteFailures > 0);
        Assert.All(acknowledged, p => Assert.True(nat.Translate((byte[])p.Clone()).IsTranslated)); // memory still serves

        // The writer retries every 50 ms, each time on a fresh LiteDB engine: a failed engine must not stay reachable
        // (it did, through LiteDB's per-thread transaction slot: a file descriptor and ≈ 120 KB per retry).
        long failuresBefore = store.WriteFailures;
        int descriptorsBefore = DescriptorsInto(_file.Folder);
        Thread.Sleep(1000);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(store.WriteFailures - failuresBefore >= 5, $"only {store.WriteFailures - failuresBefore} retries in a second");
        Assert.InRange(DescriptorsInto(_file.Folder) - descriptorsBefore, -50, 1);

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
        var afterwards = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.9"), 9, Ipv4Address.Parse("203.0.113.1"), 53, []);
        Assert.True(nat.AddNat(afterwards, publicAddress).IsOk);
        store.Dispose();
        // A LiteDB transaction left open by the failed write would throw from its finalizer and end the process:
        // run the finalizers now, so that such a leak fails here rather than at a random later moment.
        GC.Collect();
        GC.WaitForPendingFinalizers();

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(acknowledged.Count + 1, reopened.Count);
    }
}
