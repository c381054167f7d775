using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using NatFramework;
using NatFramework.Packets;

namespace NatRouter.Tests;

/// <summary>The router's metrics as a listener (dotnet-counters, an OpenTelemetry exporter) collects them.</summary>
public sealed class RouterMetricsTests
{
    [Fact]
    public void Interfaces_drops_and_generated_icmp_are_published_and_the_nat_on_the_librarys_meter()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var settings = new RouterSettings(Ipv4Address.Parse("198.51.100.1"), Ipv4Prefix.Parse("10.77.0.0/24"));
        using var store = new StoreChoice("lru", new NatOptions { PublicAddress = Ipv4Address.Parse("198.51.100.1"), Policy = settings.Policy }, "", "");
        var inside = new MemoryPort();
        var outside = new MemoryPort();
        using var router = new PacketRouter(store.Translator, settings, inside, outside);
        using var metrics = new RouterMetrics(services.GetRequiredService<IMeterFactory>(), router.Counters);
        var library = Observe(NatMetrics.MeterName);
        inside.Inject(Ipv4PacketBuilder.Tcp(Ipv4Address.Parse("10.77.0.2"), 40000, Ipv4Address.Parse("198.51.100.2"), 80, [], TcpFlags.Syn));
        inside.Inject(Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 5000, Ipv4Address.Parse("198.51.100.2"), 53, new byte[8]));
        inside.Inject([0x60, 0, 0, 0, 0, 0, 17, 64, .. new byte[32]]);
        inside.Inject(Ipv4PacketBuilder.EchoRequest(Ipv4Address.Parse("10.77.0.2"), settings.PrivateAddress, 9, 1, "ping"u8));
        router.RunOnce(fromInside: true, 0);

        var seen = Observe(RouterMetrics.MeterName);
        Assert.Equal(4, seen["natrouter.packets.received[interface=private]"]);
        Assert.Equal(2, seen["natrouter.packets.sent[interface=public]"]);
        Assert.Equal(1, seen["natrouter.packets.sent[interface=private]"]);
        Assert.Equal(1, seen["natrouter.packets.dropped[reason=not-ipv4]"]);
        Assert.Equal(1, seen["natrouter.icmp.sent[icmp.type=echo_reply]"]);
        Assert.Equal(0, seen["natrouter.icmp.sent[icmp.type=time_exceeded]"]);
        Assert.DoesNotContain(seen.Keys, k => k.StartsWith("natrouter.packets.translated", StringComparison.Ordinal) || k.StartsWith("natrouter.connections", StringComparison.Ordinal));

        // The NAT's own figures come from the library's meter (other tests translate in this process too: at least ours).
        var after = Observe(NatMetrics.MeterName);
        Assert.True(after.GetValueOrDefault("natframework.packets.translated[nat.direction=outbound]") - library.GetValueOrDefault("natframework.packets.translated[nat.direction=outbound]") >= 2);
        Assert.True(after.GetValueOrDefault("natframework.connections.created") - library.GetValueOrDefault("natframework.connections.created") >= 2);
        Assert.True(after.GetValueOrDefault("natframework.connections.active[nat.store=LruNatStore][nat.protocol=tcp]") >= 1);
    }

    /// <summary>Every measurement of one meter now, keyed by instrument and tags.</summary>
    private static Dictionary<string, long> Observe(string meterName)
    {
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == meterName) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name + string.Concat(tags.ToArray().Select(t => $"[{t.Key}={t.Value}]"));
            seen[key] = seen.GetValueOrDefault(key) + value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }
}
