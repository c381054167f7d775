using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
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
    public void Close_and_reopen_keeps_every_endpoint_independent_mapping()
    {
        var options = new NatOptions
        {
            Policy = new NatPolicy
            {
                SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)],
                UdpFiltering = NatFilteringBehavior.EndpointIndependent,
            },
        };
        var inside = Ipv4Address.Parse("10.77.0.2");
        ushort publicPort;
        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }))
        {
            var nat = new LiteDbNatTranslator(store, options);
            var first = Ipv4PacketBuilder.Udp(inside, 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
            Assert.True(nat.Translate(first, NatSide.Inside).Created);
            publicPort = BinaryPrimitives.ReadUInt16BigEndian(first.AsSpan(20));
        }

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        var again = new LiteDbNatTranslator(reopened, options);

        // The same inside endpoint to another server: the mapping's public port, not a fresh one.
        var second = Ipv4PacketBuilder.Udp(inside, 4000, Ipv4Address.Parse("203.0.113.2"), 5000, "q"u8);
        Assert.True(again.Translate(second, NatSide.Inside).Created);
        Assert.Equal(publicPort, BinaryPrimitives.ReadUInt16BigEndian(second.AsSpan(20)));
        // A stranger reaches the mapping (endpoint-independent filtering) and lands on the inside endpoint.
        var stranger = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("198.51.100.77"), 9, Public, publicPort, "hi"u8);
        Assert.True(again.Translate(stranger, NatSide.Outside).IsTranslated);
        Ipv4Packet.TryParse(stranger, out var delivered);
        Assert.Equal(inside, delivered.Destination);
        Assert.Equal(4000, BinaryPrimitives.ReadUInt16BigEndian(stranger.AsSpan(22)));
    }

    [Fact]
    public void Durable_mode_has_every_ok_on_disk_before_it_returns()
    {
        var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, Durable = true, FlushInterval = TimeSpan.FromSeconds(10), DurabilityWindow = TimeSpan.FromSeconds(30) });
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
    public void Connections_that_expired_while_closed_are_dropped_on_open()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new NatOptions();
        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, TimeProvider = clock }))
        {
            var nat = new LiteDbNatTranslator(store, options, clock);
            Assert.True(nat.AddNat(Udp(2, 4000), Public).IsOk);
            Assert.True(nat.AddNat(Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A4D0002u), 4001, Ipv4Address.Parse("203.0.113.1"), 443, [], TcpFlags.Ack), Public).IsOk); // picked up established
        }
        clock.Advance(TimeSpan.FromSeconds(301)); // past UDP's 300 s, well within TCP's 7440 s

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, TimeProvider = clock });

        Assert.Equal(1, reopened.Count);
        Assert.Equal(NatProtocol.Tcp, Assert.Single(reopened.Connections).Protocol);
    }

    [Fact]
    public void Each_protocol_is_bounded_a_full_one_reclaims_an_expired_connection_or_answers_table_full()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var storeOptions = new LiteDbStoreOptions { Path = _file.Path, TimeProvider = clock, UdpCapacity = 3, TcpCapacity = 2 };
        using (var store = new LiteDbNatStore(storeOptions))
        {
            var nat = new LiteDbNatTranslator(store, new NatOptions(), clock);
            for (int i = 0; i < 3; i++)
            {
                Assert.True(nat.AddNat(Udp(2 + i, 4000), Public).IsOk);
                clock.Advance(TimeSpan.FromSeconds(10));
            }

            Assert.Equal(NatAddStatus.TableFull, nat.AddNat(Udp(9, 4000), Public).Status);
            Assert.Equal(3, store.CountOf(NatProtocol.Udp));
            Assert.Equal(3, store.CapacityOf(NatProtocol.Udp));
            Assert.True(nat.IsPortFree(NatProtocol.Udp, new Ipv4Address(0x0A4D0009u), Ipv4Address.Parse("203.0.113.1"), 4000, 53));
            // Other protocols have bounds of their own.
            Assert.True(nat.AddNat(Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A4D0002u), 5000, Ipv4Address.Parse("203.0.113.1"), 443, []), Public).IsOk);

            // The first UDP flow (idle longest) expires first; then a new flow takes its place.
            clock.Advance(TimeSpan.FromSeconds(300 - 25));
            Assert.Equal(NatAddStatus.Ok, nat.AddNat(Udp(9, 4000), Public).Status);
            Assert.Equal(NatAddStatus.TableFull, nat.AddNat(Udp(10, 4000), Public).Status);
            Assert.False(nat.Translate((byte[])Udp(2, 4000).Clone()).IsTranslated);
            Assert.True(nat.Translate((byte[])Udp(3, 4000).Clone()).IsTranslated);
        }

        using var reopened = new LiteDbNatStore(storeOptions);
        Assert.Equal(3, reopened.CountOf(NatProtocol.Udp));
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
    public void Invalid_options_are_refused_naming_the_setting()
    {
        Assert.Contains("Path", Assert.Throws<ArgumentException>(() => new LiteDbStoreOptions().Validate()).Message);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => new LiteDbStoreOptions { Path = "/no/such/folder/nat.db" }.Validate()).Message);
    }

    [Fact]
    public void UseLiteDbStore_registers_a_synchronous_translator_and_disposal_flushes()
    {
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseLiteDbStore(o => o.Path = _file.Path);
        using (var provider = services.BuildServiceProvider())
        {
            var nat = provider.GetRequiredService<ISyncNatTranslator>();
            Assert.True(nat.AddNat(Udp(2, 4000), Public).IsOk);
        }

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public void UseLiteDbStore_binds_its_options_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiteDb:Path"] = _file.Path,
            ["LiteDb:Durable"] = "true",
        }).Build();
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseLiteDbStore(configuration.GetSection("LiteDb"));
        using (var provider = services.BuildServiceProvider())
            Assert.True(provider.GetRequiredService<ISyncNatTranslator>().AddNat(Udp(2, 4000), Public).IsOk);

        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(1, reopened.Count);
    }
}
