using System.Diagnostics.Metrics;
using NatFramework;

namespace NatRouter;

/// <summary>
/// The router's counters as <see cref="System.Diagnostics.Metrics"/> instruments on the meter
/// <c>NatFramework.Router</c>, readable live with <c>dotnet-counters monitor -p PID --counters NatFramework.Router</c>.
/// Every instrument is observable: the packet path only bumps <see cref="RouterCounters"/>, and values are read when a
/// listener collects, so metrics cost the packet path nothing.
/// </summary>
public sealed class RouterMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "NatFramework.Router";
    private static readonly NatProtocol[] Protocols = [NatProtocol.Tcp, NatProtocol.Udp, NatProtocol.Icmp];
    private readonly Meter _meter;

    /// <summary>Publishes <paramref name="counters"/> and what <paramref name="store"/> tells about itself.</summary>
    public RouterMetrics(IMeterFactory meters, RouterCounters counters, StoreChoice store)
    {
        _meter = meters.Create(MeterName);
        _meter.CreateObservableCounter("natrouter.packets.received", () => new[]
        {
            new Measurement<long>(counters.ReceivedFromInside, new KeyValuePair<string, object?>("interface", "private")),
            new Measurement<long>(counters.ReceivedFromOutside, new KeyValuePair<string, object?>("interface", "public")),
        }, "{packet}", "Packets read, per interface");
        _meter.CreateObservableCounter("natrouter.packets.sent", () => new[]
        {
            new Measurement<long>(counters.SentToInside, new KeyValuePair<string, object?>("interface", "private")),
            new Measurement<long>(counters.SentToOutside, new KeyValuePair<string, object?>("interface", "public")),
        }, "{packet}", "Packets written, per interface (ICMP errors of the router included)");
        _meter.CreateObservableCounter("natrouter.packets.translated", () => counters.Translated, "{packet}", "Packets the NAT translated");
        _meter.CreateObservableCounter("natrouter.packets.dropped",
            () => counters.Dropped.Select(d => new Measurement<long>(d.Value, new KeyValuePair<string, object?>("reason", d.Key))),
            "{packet}", "Packets dropped, per reason");
        _meter.CreateObservableCounter("natrouter.connections.added", () => counters.ConnectionsAdded, "{connection}", "Connections the router opened");
        _meter.CreateObservableCounter("natrouter.connections.removed", () => Optional(store.Evicted), "{connection}", "Connections evicted to make room (LRU store)");
        _meter.CreateObservableCounter("natrouter.connections.expired", () => Optional(store.Expired), "{connection}", "Idle connections reclaimed (LRU store)");
        _meter.CreateObservableCounter("natrouter.store.errors", () => counters.StoreErrors + (store.Failures ?? 0), "{error}",
            "Store operations that failed (their packets were dropped) and failed LiteDB writes");
        _meter.CreateObservableUpDownCounter("natrouter.table.connections",
            () => Protocols.Where(p => store.Connections(p) is not null)
                .Select(p => new Measurement<long>(store.Connections(p)!.Value, new KeyValuePair<string, object?>("protocol", p.ToString().ToLowerInvariant()))),
            "{connection}", "Connections in the table, per protocol (LRU and LiteDB stores)");
    }

    private static IEnumerable<Measurement<long>> Optional(long? value) => value is { } v ? [new Measurement<long>(v)] : [];

    /// <inheritdoc/>
    public void Dispose() => _meter.Dispose();
}
