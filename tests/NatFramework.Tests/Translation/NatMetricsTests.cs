using System.Diagnostics.Metrics;
using NatFramework.Packets;

namespace NatFramework.Tests.Translation;

/// <summary>The library's meter counts what translators do, as a listener sees it.</summary>
public sealed class NatMetricsTests
{
    /// <summary>Every measurement of the NatFramework meter now, by instrument and tag value.</summary>
    private static Dictionary<string, long> Observe()
    {
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == NatMetrics.MeterName) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name + (tags.Length > 0 ? "/" + tags[0].Value : "");
            seen[key] = seen.GetValueOrDefault(key) + value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }

    private static long Delta(Dictionary<string, long> before, Dictionary<string, long> after, string key)
        => after.GetValueOrDefault(key) - before.GetValueOrDefault(key);

    [Fact]
    public void Translations_refusals_drops_and_created_connections_are_counted_by_direction_and_reason()
    {
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        var nat = new RecordingTranslator(new RecordingStore(), new NatOptions
        {
            Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), publicAddress)] },
        });
        var before = Observe();

        var first = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
        Assert.True(nat.Translate(first, NatSide.Inside).Created);
        ushort port = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(first.AsSpan(20));
        var reply = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("203.0.113.1"), 53, publicAddress, port, "a"u8);
        Assert.True(nat.Translate(reply, NatSide.Outside).IsTranslated);
        var stranger = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("203.0.113.9"), 53, publicAddress, 9, "x"u8);
        Assert.Equal(UntranslatedReason.NoConnection, nat.Translate(stranger, NatSide.Outside).Reason);
        var damaged = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
        damaged[10] ^= 0xFF; // header checksum
        Assert.Equal(PacketError.BadHeaderChecksum, nat.Translate(damaged, NatSide.Inside).Error);
        byte[][] batch = [Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8), stranger, stranger];
        var buffer = batch.SelectMany(p => p).ToArray();
        var ranges = new Range[3];
        for (int i = 0, at = 0; i < 3; at += batch[i].Length, i++) ranges[i] = new Range(at, at + batch[i].Length);
        nat.TranslateBatch(buffer, ranges, new NatTranslateResult[3], NatSide.Unknown);

        var after = Observe();
        // Other tests translate in parallel in this process: the counters only grow, by at least what this test did.
        Assert.True(Delta(before, after, "natframework.packets.translated/outbound") >= 2);
        Assert.True(Delta(before, after, "natframework.packets.translated/reply") >= 1);
        Assert.True(Delta(before, after, "natframework.packets.untranslated/no_connection") >= 3);
        Assert.True(Delta(before, after, "natframework.packets.dropped/bad_header_checksum") >= 1);
        Assert.True(Delta(before, after, "natframework.connections.created") >= 1);
    }

    [Fact]
    public void Connections_removed_with_their_host_are_counted()
    {
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        var nat = new RecordingTranslator(new RecordingStore(), new NatOptions
        {
            Policy = new NatPolicy { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), publicAddress)] },
        });
        for (ushort port = 4000; port < 4003; port++)
            nat.Translate(Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.7"), port, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8), NatSide.Inside);
        var before = Observe();

        Assert.Equal(3, nat.RemoveConnections(Ipv4Address.Parse("10.77.0.7")).Connections.Count);

        Assert.True(Delta(before, Observe(), "natframework.connections.removed") >= 3);
    }

    [Theory]
    [InlineData("NoConnection", "no_connection")]
    [InlineData("BadUdpLength", "bad_udp_length")]
    [InlineData("Filtered", "filtered")]
    public void Tag_values_are_snake_case(string name, string expected) => Assert.Equal(expected, NatMetrics.SnakeCase(name));
}
