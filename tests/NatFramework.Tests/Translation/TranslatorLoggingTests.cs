using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NatFramework.Packets;

namespace NatFramework.Tests.Translation;

/// <summary>A translator logs what an operator acts on, once per event rather than once per packet.</summary>
public sealed class TranslatorLoggingTests
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly NatPolicy Policy = new() { SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)] };

    private static byte[] Flow(int port) => Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), (ushort)port, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);

    private static (RecordingStore Store, RecordingTranslator Nat, FakeLogger Logger) Translator()
    {
        var logger = new FakeLogger();
        var store = new RecordingStore();
        return (store, new RecordingTranslator(store, new NatOptions { Policy = Policy }, logger: logger), logger);
    }

    [Fact]
    public void A_lost_store_is_logged_once_as_a_warning_and_its_return_once_with_the_packets_it_cost()
    {
        var (store, nat, logger) = Translator();
        Assert.True(nat.Translate(Flow(4000), NatSide.Inside).IsTranslated);

        store.Unreachable = true;
        for (int i = 0; i < 50; i++) Assert.Equal(NatTranslateStatus.StoreUnavailable, nat.Translate(Flow(4000), NatSide.Inside).Status);
        store.Unreachable = false;
        for (int i = 0; i < 5; i++) Assert.True(nat.Translate(Flow(4000), NatSide.Inside).IsTranslated);

        var lost = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 103);
        Assert.Equal(LogLevel.Warning, lost.Level);
        Assert.Contains("RecordingStore", lost.Message);
        var back = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 104);
        Assert.Equal(LogLevel.Information, back.Level);
        Assert.Contains("50 packets were answered StoreUnavailable", back.Message);
    }

    [Fact]
    public void Refused_flows_are_logged_at_once_then_counted_instead_of_logged_per_packet()
    {
        var (store, nat, logger) = Translator();
        store.RefuseInserts = NatInsertStatus.TableFull;

        for (int port = 4000; port < 4100; port++) Assert.Equal(UntranslatedReason.TableFull, nat.Translate(Flow(port), NatSide.Inside).Reason);

        var refused = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 105);
        Assert.Equal(LogLevel.Warning, refused.Level);
        Assert.Contains("1 new flows refused as table_full", refused.Message);
        Assert.Contains("raise the store's capacity", refused.Message);
    }

    [Fact]
    public void Policy_changes_removals_and_resets_are_logged_with_what_they_did()
    {
        var (_, nat, logger) = Translator();
        nat.Translate(Flow(4000), NatSide.Inside);
        nat.Translate(Flow(4001), NatSide.Inside);

        nat.Policy = NatPolicy.None;
        var freed = nat.RemoveConnections(Ipv4Address.Parse("10.77.0.2"));
        nat.Reset();

        var records = logger.Collector.GetSnapshot();
        Assert.Contains(records, r => r.Id.Id == 102 && r.Level == LogLevel.Information && r.Message.Contains("0 source-NAT rules"));
        Assert.Contains(records, r => r.Id.Id == 106 && r.Message.Contains($"removed {freed.Connections.Count} connections of 10.77.0.2") && freed.Connections.Count == 2);
        Assert.Contains(records, r => r.Id.Id == 107 && r.Level == LogLevel.Information);
    }

    [Fact]
    public void Without_a_logger_nothing_is_logged_and_translation_is_unchanged()
    {
        var store = new RecordingStore { Unreachable = true };
        var nat = new RecordingTranslator(store, new NatOptions { Policy = Policy });
        Assert.Equal(NatTranslateStatus.StoreUnavailable, nat.Translate(Flow(4000), NatSide.Inside).Status);
        store.Unreachable = false;
        Assert.True(nat.Translate(Flow(4000), NatSide.Inside).IsTranslated);
    }
}
