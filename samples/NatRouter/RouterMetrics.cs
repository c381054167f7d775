using System.Diagnostics.Metrics;
using NatFramework;

namespace NatRouter;

/// <summary>
/// What only the router knows, as <see cref="System.Diagnostics.Metrics"/> instruments on the meter
/// <c>NatFramework.Router</c>: packets per interface, packets it dropped by reason, ICMP messages it generated. What the
/// NAT did (translations, connections created, evicted and expired, the table's size, store errors and latency) is the
/// library's meter, <c>NatFramework</c> (<see cref="NatMetrics"/>); watch both with
/// <c>dotnet-counters monitor -p PID --counters NatFramework,NatFramework.Router</c>. Every instrument is observable: the
/// packet path only bumps <see cref="RouterCounters"/>, and values are read when a listener collects.
/// </summary>
public sealed class RouterMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "NatFramework.Router";
    private readonly Meter _meter;

    /// <summary>Publishes <paramref name="counters"/>.</summary>
    public RouterMetrics(IMeterFactory meters, RouterCounters counters)
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
        }, "{packet}", "Packets written, per interface (ICMP messages of the router included)");
        _meter.CreateObservableCounter("natrouter.packets.dropped",
            () => counters.Dropped.Select(d => new Measurement<long>(d.Value, new KeyValuePair<string, object?>("reason", d.Key))),
            "{packet}", "Packets the router dropped, per reason");
        _meter.CreateObservableCounter("natrouter.icmp.sent", () =>
        {
            var (echo, timeExceeded, unreachable) = counters.IcmpGenerated;
            return new[]
            {
                new Measurement<long>(echo, new KeyValuePair<string, object?>("icmp.type", "echo_reply")),
                new Measurement<long>(timeExceeded, new KeyValuePair<string, object?>("icmp.type", "time_exceeded")),
                new Measurement<long>(unreachable, new KeyValuePair<string, object?>("icmp.type", "destination_unreachable")),
            };
        }, "{message}", "ICMP messages the router generated: echo replies to pings of its addresses, and errors");
    }

    /// <inheritdoc/>
    public void Dispose() => _meter.Dispose();
}
