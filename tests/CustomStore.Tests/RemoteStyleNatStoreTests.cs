using NatFramework;
using NatFramework.Packets;

namespace CustomStore.Tests;

/// <summary>What only an asynchronous store shows: real awaits, one round trip per batch, an unavailable backend.</summary>
public sealed class RemoteStyleNatStoreTests
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private static byte[] Udp(int i) => Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), (ushort)(10000 + i), Ipv4Address.Parse("198.51.100.2"), 53, "x"u8);

    [Fact]
    public async Task Translation_completes_across_real_awaits()
    {
        var store = new RemoteStyleNatStore { Latency = TimeSpan.FromMilliseconds(2) };
        var nat = new RemoteStyleNatTranslator(store);
        var packet = Udp(1);
        Assert.True((await nat.AddNatAsync(packet, Public)).IsOk);

        var result = await nat.TranslateAsync(packet);

        Assert.True(result.IsTranslated);
        Ipv4Packet.TryParse(packet, out var ip);
        Assert.Equal(Public, ip.Source);
    }

    [Fact]
    public async Task A_batch_of_packets_costs_one_lookup_round_trip()
    {
        var store = new RemoteStyleNatStore();
        var nat = new RemoteStyleNatTranslator(store);
        var packets = Enumerable.Range(0, 100).Select(Udp).ToList();
        foreach (var p in packets) Assert.True((await nat.AddNatAsync(p, Public)).IsOk);
        var buffer = packets.SelectMany(p => p).ToArray();
        var ranges = Enumerable.Range(0, 100).Select(i => new Range(i * packets[0].Length, (i + 1) * packets[0].Length)).ToArray();
        var results = new NatTranslateResult[100];
        long before = store.RoundTrips;

        await nat.TranslateBatchAsync(buffer, ranges, results);

        Assert.All(results, r => Assert.True(r.IsTranslated));
        Assert.Equal(1, store.RoundTrips - before);
    }

    [Fact]
    public async Task An_unavailable_store_gives_store_unavailable_results_not_exceptions()
    {
        var store = new RemoteStyleNatStore();
        var nat = new RemoteStyleNatTranslator(store);
        var packet = Udp(1);
        Assert.True((await nat.AddNatAsync(packet, Public)).IsOk);
        store.Unavailable = true;
        var copy = (byte[])packet.Clone();

        var translated = await nat.TranslateAsync(copy);
        var added = await nat.AddNatAsync(Udp(2), Public);
        var results = new NatTranslateResult[1];
        await nat.TranslateBatchAsync(copy, new[] { new Range(0, copy.Length) }, results);

        Assert.Equal(NatTranslateStatus.StoreUnavailable, translated.Status);
        Assert.Equal(packet, copy);
        Assert.Equal(NatAddStatus.StoreUnavailable, added.Status);
        Assert.Equal(NatTranslateStatus.StoreUnavailable, results[0].Status);

        store.Unavailable = false;
        Assert.True((await nat.TranslateAsync(copy)).IsTranslated);
    }
}
