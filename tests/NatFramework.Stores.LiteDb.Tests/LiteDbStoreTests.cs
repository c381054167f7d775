using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NatFramework.Packets;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>What only a persistent store shows: restarts, crashes, expiry across a restart, locked and corrupt files.</summary>
public sealed class LiteDbStoreTests : IDisposable
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private readonly TableFile _file = new();

    public void Dispose() => _file.Dispose();

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), port, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);

    private static byte[] Translated(LiteDbNatTranslator nat, byte[] packet)
    {
        var copy = (byte[])packet.Clone();
        Assert.True(nat.Translate(copy).IsTranslated);
        return copy;
    }

    private static Ipv4Address SourceOf(byte[] packet)
    {
        Ipv4Packet.TryParse(packet, out var ip);
        return ip.Source;
    }

    [Fact]
    public void Close_and_reopen_keeps_every_connection_and_its_translation_byte_for_byte()
    {
        var packets = Enumerable.Range(0, 300).Select(i => Udp(2 + i % 7, (ushort)(3000 + i))).ToList();
        var forward = Ipv4PacketBuilder.Tcp(Ipv4Address.Parse("203.0.113.9"), 5555, Public, 8080, []);
        List<string> before;
        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }))
        {
            var nat = new LiteDbNatTranslator(store);
            foreach (var packet in packets) Assert.True(nat.AddNat(packet, Public).IsOk);
            Assert.True(nat.AddRedirect(forward, Ipv4Address.Parse("10.77.0.1"), Ipv4Address.Parse("10.77.0.2"), 80).IsOk);
            before = packets.Append(forward).Select(p => Convert.ToHexString(Translated(nat, p))).ToList();
        }

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        var again = new LiteDbNatTranslator(reopened);

        Assert.Equal(301, reopened.Count);
        Assert.Equal(300, reopened.CountOf(NatProtocol.Udp));
        Assert.Equal(1, reopened.CountOf(NatProtocol.Tcp));
        Assert.Equal(0, reopened.CountOf(NatProtocol.Icmp));
        Assert.Equal(before, packets.Append(forward).Select(p => Convert.ToHexString(Translated(again, p))).ToList());
        int removed = again.RemoveConnections(SourceOf(packets[0])).Udp.Count;
        Assert.True(removed > 0);
        Assert.Equal(300 - removed, reopened.CountOf(NatProtocol.Udp));
        again.Reset();
        Assert.Equal(0, reopened.CountOf(NatProtocol.Udp) + reopened.CountOf(NatProtocol.Tcp));
    }

    [Fact]
    public void Durable_mode_has_every_ok_on_disk_before_it_returns()
    {
        var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, Durable = true, FlushInterval = TimeSpan.FromSeconds(10) });
        var nat = new LiteDbNatTranslator(store);
        Assert.True(nat.AddNat(Udp(2, 4000), Public).IsOk);

        // Copy the file while the store is open: what a crash at this moment would leave behind.
        // LiteDB commits into its log file (nat-log.db) and checkpoints into nat.db later: a crash leaves both.
        var copy = Path.Combine(_file.Folder, "copy.db");
        File.Copy(_file.Path, copy);
        var log = Path.Combine(_file.Folder, "nat-log.db");
        if (File.Exists(log)) File.Copy(log, Path.Combine(_file.Folder, "copy-log.db"));
        store.Dispose();
        using var fromCopy = new LiteDbNatStore(new LiteDbStoreOptions { Path = copy });

        Assert.Equal(1, fromCopy.Count);
    }

    [Fact]
    public void A_killed_writer_leaves_every_connection_older_than_the_durability_window_and_no_half_connection()
    {
        var child = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(Program).Assembly.Location, "child-writer", _file.Path },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Killed below; without the runtime's debugger pipes and diagnostic socket it leaves nothing in /tmp.
            Environment = { ["DOTNET_EnableDiagnostics"] = "0" },
        })!;
        var acknowledged = new List<(int Index, long At)>();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(20) && acknowledged.Count < 400)
        {
            var line = child.StandardOutput.ReadLine();
            if (line is null) break;
            var parts = line.Split(' ');
            acknowledged.Add((int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)));
        }
        long killedAt = Environment.TickCount64;
        child.Kill(); // SIGKILL: no flush, no dispose
        child.WaitForExit();
        Assert.True(acknowledged.Count >= 100, $"the child acknowledged only {acknowledged.Count} connections: {child.StandardError.ReadToEnd()}");

        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        var nat = new LiteDbNatTranslator(store);

        // Everything acknowledged more than the window (100 ms) plus a write's time (a generous 400 ms) before the kill is there.
        foreach (var (index, at) in acknowledged.Where(a => killedAt - a.At > 500))
        {
            var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)(index / 1000) + 2), (ushort)(1024 + index % 1000), Ipv4Address.Parse("203.0.113.1"), 53, []);
            Assert.True(nat.Translate((byte[])packet.Clone()).IsTranslated, $"connection {index} acknowledged {killedAt - at} ms before the kill is missing");
        }
        // Every connection in the file has both directions.
        foreach (var connection in store.Connections)
        {
            Assert.True(store.Contains(connection.OutboundKey, long.MinValue));
            Assert.True(store.Contains(connection.ReplyKey, long.MinValue));
        }
    }

    [Fact]
    public void Connections_that_expired_while_closed_are_dropped_on_open()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new NatOptions();
        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, TimeProvider = clock }))
        {
            var nat = new LiteDbNatTranslator(store, options, clock);
            Assert.True(nat.AddNat(Udp(2, 4000), Public).IsOk);
            Assert.True(nat.AddNat(Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A4D0002u), 4001, Ipv4Address.Parse("203.0.113.1"), 443, []), Public).IsOk);
        }
        clock.Advance(TimeSpan.FromSeconds(301)); // past UDP's 300 s, well within TCP's 7440 s

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, TimeProvider = clock });

        Assert.Equal(1, reopened.Count);
        Assert.Equal(NatProtocol.Tcp, Assert.Single(reopened.Connections).Protocol);
    }

    [Fact]
    public void A_file_in_use_gives_an_error_naming_it()
    {
        using var first = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });

        var error = Assert.Throws<IOException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains(_file.Path, error.Message);
        Assert.Contains("in use", error.Message);
    }

    [Fact]
    public void A_corrupt_file_is_an_error_naming_it_and_is_never_replaced_unless_asked()
    {
        var garbage = Enumerable.Repeat((byte)0x5A, 16384).ToArray();
        File.WriteAllBytes(_file.Path, garbage);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));
        Assert.Contains(_file.Path, error.Message);
        Assert.Equal(garbage, File.ReadAllBytes(_file.Path));

        using var fresh = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, MoveAsideCorruptFile = true });
        Assert.Equal(0, fresh.Count);
        var aside = Assert.Single(Directory.GetFiles(_file.Folder, "nat.db.corrupt-*"), f => !f.EndsWith("-log", StringComparison.Ordinal));
        Assert.Equal(garbage, File.ReadAllBytes(aside));
    }

    [Fact]
    public void Invalid_options_are_refused_naming_the_setting()
    {
        Assert.Contains("Path", Assert.Throws<ArgumentException>(() => new LiteDbStoreOptions().Validate()).Message);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => new LiteDbStoreOptions { Path = "/no/such/folder/nat.db" }.Validate()).Message);
    }

    [Fact]
    public void UseLiteDbStore_registers_a_synchronous_translator_and_disposal_flushes()
    {
        var services = new ServiceCollection();
        services.AddNat().UseLiteDbStore(o => o.Path = _file.Path);
        using (var provider = services.BuildServiceProvider())
        {
            var nat = provider.GetRequiredService<ISyncNatTranslator>();
            Assert.True(nat.AddNat(Udp(2, 4000), Public).IsOk);
        }

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(1, reopened.Count);
    }
}
