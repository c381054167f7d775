using System.Diagnostics;
using System.Globalization;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>
/// A writer process adding connections is killed with SIGKILL (no flush, no dispose) at a random moment, again and again;
/// each reopened file must hold every connection acknowledged more than the durability window (250 ms) before its kill,
/// at a gentle rate, at 20,000 adds/s and flat out, and no half connection. Half the runs are on a loaded machine: busy
/// threads compete with the writer for the cores, as other test projects or a router's traffic would (that is where a
/// writer that checkpointed inside its commits and guessed its first batches' speed held acknowledgements 450 ms).
/// </summary>
public sealed class DurabilityWindowTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(2_000, 4)]
    [InlineData(20_000, 16)]
    [InlineData(0, 16)] // as fast as the writer lets it
    public async Task A_killed_writer_loses_nothing_acknowledged_longer_ago_than_the_window(int addsPerSecond, int runs)
    {
        var window = new LiteDbStoreOptions().DurabilityWindow;
        var random = new Random(addsPerSecond + runs);
        var worst = new List<string>();
        for (int run = 0; run < runs; run++)
        {
            using var file = new TableFile();
            // Well past the store's start-up, then anywhere in the next two seconds: mid-batch, mid-checkpoint, idle.
            var killAfter = TimeSpan.FromMilliseconds(300 + random.Next(1_700));
            bool loaded = run % 2 == 1;
            (int acknowledged, double oldestLostMs, int lost) result;
            using (loaded ? new CpuLoad(threads: 3) : null)
                result = await KillWriterAsync(file.Path, addsPerSecond, killAfter);
            var (acknowledged, oldestLostMs, lost) = result;
            string line = $"run {run} ({(loaded ? "loaded" : "idle")}): killed {killAfter.TotalMilliseconds:F0} ms after the first add; {acknowledged} acknowledged, {lost} lost, " +
                          $"the oldest of them acknowledged {oldestLostMs:F0} ms before the kill";
            output.WriteLine(line);
            if (oldestLostMs > window.TotalMilliseconds) worst.Add(line);
        }
        Assert.True(worst.Count == 0, $"{addsPerSecond} adds/s, window {window.TotalMilliseconds} ms: " + string.Join("; ", worst));
    }

    private static async Task<(int Acknowledged, double OldestLostMs, int Lost)> KillWriterAsync(string path, int addsPerSecond, TimeSpan killAfter)
    {
        var child = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(Program).Assembly.Location, "child-writer", path, addsPerSecond.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Killed below; without the runtime's debugger pipes and diagnostic socket it leaves nothing in /tmp.
            Environment = { ["DOTNET_EnableDiagnostics"] = "0" },
        })!;
        var errors = child.StandardError.ReadToEndAsync();
        var acknowledged = new List<(int Index, long At)>();
        void ReadAck(string line)
        {
            var parts = line.Split(' ');
            acknowledged.Add((int.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture)));
        }

        var running = Stopwatch.StartNew();
        string? line;
        while (running.Elapsed < TimeSpan.FromSeconds(30) && (line = child.StandardOutput.ReadLine()) is not null)
        {
            ReadAck(line);
            if (acknowledged.Count == 1) running.Restart();
            if (acknowledged.Count > 1 && running.Elapsed > killAfter) break;
        }
        long killedAt = Stopwatch.GetTimestamp();
        child.Kill(); // SIGKILL
        child.WaitForExit();
        // Acknowledgements written before the kill are still in the pipe: read them to its end.
        while ((line = child.StandardOutput.ReadLine()) is not null) ReadAck(line);
        string stderr = await errors;
        Assert.True(acknowledged.Count >= 100, $"the child acknowledged only {acknowledged.Count} connections: {stderr}");

        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = path, UdpCapacity = 10_000_000 });
        var present = store.Connections.Select(c => c.Outbound).ToHashSet();
        var lost = acknowledged.Where(a => !present.Contains(KeyOf(a.Index))).ToList();
        // Every connection in the file has both directions.
        foreach (var connection in store.Connections)
        {
            Assert.True(store.Contains(connection.OutboundKey, ExpiryCutoffs.Never));
            Assert.True(store.Contains(connection.ReplyKey, ExpiryCutoffs.Never));
        }
        double oldestLostMs = lost.Count == 0 ? 0 : (killedAt - lost.Min(a => a.At)) * 1000.0 / Stopwatch.Frequency;
        return (acknowledged.Count, oldestLostMs, lost.Count);
    }

    private static FlowKey KeyOf(int index)
    {
        Packets.Ipv4Packet.TryParse(Program.WriterPacket(index), out var ip);
        FlowKey.TryRead(ip, out var key);
        return key;
    }

    /// <summary>Threads that keep cores busy until disposed.</summary>
    private sealed class CpuLoad : IDisposable
    {
        private readonly Thread[] _threads;
        private volatile bool _stop;

        public CpuLoad(int threads)
        {
            _threads = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
            {
                while (!_stop) Thread.SpinWait(1_000);
            }) { IsBackground = true }).ToArray();
            foreach (var thread in _threads) thread.Start();
        }

        public void Dispose()
        {
            _stop = true;
            foreach (var thread in _threads) thread.Join();
        }
    }
}
