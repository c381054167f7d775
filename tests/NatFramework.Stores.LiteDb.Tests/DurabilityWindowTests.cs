using System.Diagnostics;
using System.Globalization;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>
/// A writer process adding connections is killed with SIGKILL (no flush, no dispose); the reopened file must hold every
/// connection acknowledged more than the durability window (250 ms) before the kill, at a gentle rate and flat out, and
/// no half connection.
/// </summary>
public sealed class DurabilityWindowTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly TableFile _file = new();

    public void Dispose() => _file.Dispose();

    [Theory]
    [InlineData(2_000)]
    [InlineData(20_000)]
    [InlineData(0)] // as fast as the writer lets it
    public async Task A_killed_writer_loses_nothing_acknowledged_longer_ago_than_the_window(int addsPerSecond)
    {
        var window = new LiteDbStoreOptions().DurabilityWindow;
        var child = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(Program).Assembly.Location, "child-writer", _file.Path, addsPerSecond.ToString(CultureInfo.InvariantCulture) },
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

        // Let it run well past its start-up and the writer's first measurements, then kill it mid-stream.
        var running = Stopwatch.StartNew();
        string? line;
        while (running.Elapsed < TimeSpan.FromSeconds(30) && (line = child.StandardOutput.ReadLine()) is not null)
        {
            ReadAck(line);
            if (acknowledged.Count == 1) running.Restart();
            if (acknowledged.Count > 1 && running.Elapsed > TimeSpan.FromSeconds(1.5)) break;
        }
        long killedAt = Stopwatch.GetTimestamp();
        child.Kill(); // SIGKILL
        child.WaitForExit();
        // Acknowledgements written before the kill are still in the pipe: read them to its end.
        while ((line = child.StandardOutput.ReadLine()) is not null) ReadAck(line);
        string stderr = await errors;
        Assert.True(acknowledged.Count >= 100, $"the child acknowledged only {acknowledged.Count} connections: {stderr}");

        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        var present = store.Connections.Select(c => c.Outbound).ToHashSet();
        var lost = acknowledged.Where(a => !present.Contains(KeyOf(a.Index))).ToList();

        double oldestLostMs = lost.Count == 0 ? 0 : (killedAt - lost.Min(a => a.At)) * 1000.0 / Stopwatch.Frequency;
        output.WriteLine($"{addsPerSecond} adds/s: {acknowledged.Count} acknowledged, {lost.Count} lost, the oldest of them {oldestLostMs:F0} ms before the kill");
        Assert.True(oldestLostMs <= window.TotalMilliseconds,
            $"{lost.Count} of {acknowledged.Count} acknowledged connections lost, the oldest acknowledged {oldestLostMs:F0} ms before the kill (window {window.TotalMilliseconds} ms)");
        // Every connection in the file has both directions.
        foreach (var connection in store.Connections)
        {
            Assert.True(store.Contains(connection.OutboundKey, ExpiryCutoffs.Never));
            Assert.True(store.Contains(connection.ReplyKey, ExpiryCutoffs.Never));
        }
    }

    private static FlowKey KeyOf(int index)
    {
        Packets.Ipv4Packet.TryParse(Program.WriterPacket(index), out var ip);
        FlowKey.TryRead(ip, out var key);
        return key;
    }
}
