using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using NatFramework;
using NatFramework.Packets;

namespace NatRouter.Tests;

/// <summary>The router's metrics as a listener (dotnet-counters, an OpenTelemetry exporter) collects them.</summary>
public sealed class RouterMetricsTests
{
    [Fact]
    public void Packets_drops_connections_and_table_size_are_published()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var settings = new RouterSettings(Ipv4Address.Parse("198.51.100.1"), Ipv4Prefix.Parse("10.77.0.0/24"));
        using var store = new StoreChoice("lru", new NatOptions { PublicAddress = Ipv4Address.Parse("198.51.100.1"), Policy = settings.Policy }, "", "");
        var inside = new MemoryPort();
        var outside = new MemoryPort();
        using var router = new PacketRouter(store.Translator, settings, inside, outside);
        using var metrics = new RouterMetrics(services.GetRequiredService<IMeterFactory>(), router.Counters, store);
        inside.Inject(Ipv4PacketBuilder.Tcp(Ipv4Address.Parse("10.77.0.2"), 40000, Ipv4Address.Parse("198.51.100.2"), 80, [], TcpFlags.Syn));
        inside.Inject(Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 5000, Ipv4Address.Parse("198.51.100.2"), 53, new byte[8]));
        inside.Inject([0x60, 0, 0, 0, 0, 0, 17, 64, .. new byte[32]]);
        router.RunOnce(fromInside: true, 0);

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == RouterMetrics.MeterName) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name + string.Concat(tags.ToArray().Select(t => $"[{t.Key}={t.Value}]"));
            seen[key] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(3, seen["natrouter.packets.received[interface=private]"]);
        Assert.Equal(2, seen["natrouter.packets.sent[interface=public]"]);
        Assert.Equal(2, seen["natrouter.packets.translated"]);
        Assert.Equal(1, seen["natrouter.packets.dropped[reason=not-ipv4]"]);
        Assert.Equal(2, seen["natrouter.connections.added"]);
        Assert.Equal(1, seen["natrouter.table.connections[protocol=tcp]"]);
        Assert.Equal(1, seen["natrouter.table.connections[protocol=udp]"]);
        Assert.Equal(0, seen["natrouter.table.connections[protocol=icmp]"]);
        Assert.Equal(0, seen["natrouter.connections.expired"]);
        Assert.Equal(0, seen["natrouter.store.errors"]);
    }
}
