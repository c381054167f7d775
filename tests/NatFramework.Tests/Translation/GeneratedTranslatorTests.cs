using Microsoft.Extensions.Time.Testing;
using NatFramework.Packets;

namespace NatFramework.Tests.Translation;

/// <summary>How a generated translator uses its store: refresh throttling, capabilities found by shape.</summary>
public sealed class GeneratedTranslatorTests
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static byte[] Udp(ushort port = 4000) => Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), port, Ipv4Address.Parse("198.51.100.2"), 53, "x"u8);

    [Fact]
    public void Translation_refreshes_a_connection_at_most_once_per_tenth_of_its_timeout()
    {
        var clock = new FakeTimeProvider();
        var store = new RecordingStore();
        var nat = new RecordingTranslator(store, new NatOptions(), clock);
        Assert.True(nat.AddNat(Udp(), Public).IsOk);

        // 300 s UDP timeout / 10: one touch per 30 s of traffic, whatever the packet count.
        for (int second = 0; second < 300; second++)
        {
            for (int i = 0; i < 10; i++) Assert.True(nat.Translate(Udp()).IsTranslated);
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.InRange(store.Touches, 9, 11);
    }

    private static readonly NatPolicy Policy = new() { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)] };

    private static byte[] Outbound(TcpFlags flags) => Ipv4PacketBuilder.Tcp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("198.51.100.2"), 80, [], flags);

    private static byte[] Answer(ushort port, TcpFlags flags) => Ipv4PacketBuilder.Tcp(Ipv4Address.Parse("198.51.100.2"), 80, Public, port, [], flags);

    private static ushort PortOf(byte[] translated) => (ushort)(translated[20] << 8 | translated[21]);

    [Fact]
    public void Tcp_state_is_written_when_it_changes_and_never_for_established_traffic()
    {
        var store = new RecordingStore();
        var nat = new RecordingTranslator(store, new NatOptions { Policy = Policy });
        var syn = Outbound(TcpFlags.Syn);
        Assert.True(nat.Translate(syn).Created);
        ushort port = PortOf(syn);

        Assert.True(nat.Translate(Answer(port, TcpFlags.Syn | TcpFlags.Ack)).IsTranslated); // handshake seen both ways: 1
        Assert.True(nat.Translate(Outbound(TcpFlags.Ack)).IsTranslated);
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(nat.Translate(Outbound(TcpFlags.Ack | TcpFlags.Psh)).IsTranslated);
            Assert.True(nat.Translate(Answer(port, TcpFlags.Ack)).IsTranslated);
        }
        Assert.Equal(1, store.StateUpdates);
        Assert.True(nat.Translate(Outbound(TcpFlags.Fin | TcpFlags.Ack)).IsTranslated); // 2
        Assert.True(nat.Translate(Answer(port, TcpFlags.Fin | TcpFlags.Ack)).IsTranslated); // 3
        Assert.True(nat.Translate(Outbound(TcpFlags.Ack)).IsTranslated);

        Assert.Equal(3, store.StateUpdates);
        Assert.True(store[KeyOf(Outbound(TcpFlags.Ack))].IsTransitory);
    }

    [Fact]
    public void A_state_change_computed_from_an_older_state_is_computed_again_from_the_stored_one()
    {
        var store = new RecordingStore();
        var nat = new RecordingTranslator(store, new NatOptions { Policy = Policy });
        var syn = Outbound(TcpFlags.Syn);
        nat.Translate(syn);
        ushort port = PortOf(syn);
        nat.Translate(Answer(port, TcpFlags.Syn | TcpFlags.Ack));
        Assert.True(nat.Translate(Outbound(TcpFlags.Fin | TcpFlags.Ack)).IsTranslated);

        // The answering FIN is judged from a copy that has not seen the first FIN (another router's, a stale cache): the
        // store refuses that change, and the translator makes it again from the stored state, so both FINs count.
        store.StaleFlags = NatConnectionFlags.EndpointMapped; // established, without the first FIN
        int before = store.StateUpdates;
        Assert.True(nat.Translate(Answer(port, TcpFlags.Fin | TcpFlags.Ack)).IsTranslated);

        Assert.Equal(2, store.StateUpdates - before);
        var stored = store[KeyOf(Outbound(TcpFlags.Ack))];
        Assert.Equal(NatConnectionFlags.TcpFinOutbound | NatConnectionFlags.TcpFinReply | NatConnectionFlags.TcpTransitory | NatConnectionFlags.EndpointMapped, stored.Flags);
    }

    private static FlowKey KeyOf(byte[] packet)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(packet, out var ip));
        Assert.True(FlowKey.TryRead(ip, out var key));
        return key;
    }

    [Fact]
    public void Batch_translation_uses_the_batch_lookup_member()
    {
        var store = new RecordingStore();
        var nat = new RecordingTranslator(store);
        var packets = Enumerable.Range(0, 300).Select(i => Udp((ushort)(5000 + i))).ToArray();
        foreach (var p in packets) Assert.True(nat.AddNat(p, Public).IsOk);
        var buffer = packets.SelectMany(p => p).ToArray();
        var ranges = Enumerable.Range(0, 300).Select(i => new Range(i * packets[0].Length, (i + 1) * packets[0].Length)).ToArray();
        var results = new NatTranslateResult[300];
        int lookupsBefore = store.Lookups;

        nat.TranslateBatch(buffer, ranges, results);

        Assert.All(results, r => Assert.True(r.IsTranslated));
        Assert.Equal(2, store.BatchLookups); // chunks of 256 + 44
        Assert.Equal(lookupsBefore, store.Lookups);
    }

    [Fact]
    public void Remove_connections_uses_the_host_index_member()
    {
        var store = new RecordingStore();
        var nat = new RecordingTranslator(store);
        Assert.True(nat.AddNat(Udp(), Public).IsOk);

        var freed = nat.RemoveConnections(Ipv4Address.Parse("10.77.0.2"));

        Assert.Equal(1, store.HostIndexRemovals);
        Assert.Single(freed.Udp);
    }

    [Fact]
    public void Native_expiry_store_gets_the_timeouts_and_translator_stops_checking_expiry()
    {
        var clock = new FakeTimeProvider();
        var store = new RecordingStore();
        var nat = new RecordingTranslator(store, new NatOptions { UdpTimeout = TimeSpan.FromSeconds(10) }, clock);
        Assert.True(nat.AddNat(Udp(), Public).IsOk);

        clock.Advance(TimeSpan.FromHours(1));

        Assert.True(store.ConfigureExpiryCalled);
        Assert.Equal(TimeSpan.FromSeconds(10), store.ConfiguredExpiry!.Udp);
        // The store owns expiry now: the translator passes "never" and this store never expires on its own.
        Assert.True(nat.Translate(Udp()).IsTranslated);
    }

    [Fact]
    public void Invalid_options_fail_at_construction_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new RecordingTranslator(new RecordingStore(), new NatOptions { PortRangeStart = 5000, PortRangeEnd = 4000 }));
        Assert.Contains("PortRangeEnd", error.Message);
        var timeout = Assert.Throws<ArgumentOutOfRangeException>(() => new RecordingTranslator(new RecordingStore(), new NatOptions { UdpTimeout = TimeSpan.Zero }));
        Assert.Contains("UdpTimeout", timeout.Message);
        var address = Assert.Throws<ArgumentException>(() => new RecordingTranslator(new RecordingStore(), new NatOptions { PublicAddress = Ipv4Address.Broadcast }));
        Assert.Contains("PublicAddress", address.Message);
    }

    [Fact]
    public void Options_are_copied_so_later_changes_do_not_reach_the_translator()
    {
        var options = new NatOptions();
        var nat = new RecordingTranslator(new RecordingStore(), options);

        options.UdpTimeout = TimeSpan.FromSeconds(1);

        Assert.Equal(TimeSpan.FromSeconds(300), nat.Options.UdpTimeout);
    }
}
