// A console application without a host: configuration from appsettings.json (and the command line), a service
// collection per store, the library's meter read with a MeterListener.
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NatFramework;
using NatFramework.Packets;

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json")
    .AddCommandLine(args)
    .Build();

var measurements = new Dictionary<string, long>();
using var listener = new MeterListener
{
    InstrumentPublished = (instrument, l) =>
    {
        if (instrument.Meter.Name == NatMetrics.MeterName) l.EnableMeasurementEvents(instrument);
    },
};
listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
{
    string key = instrument.Name + string.Concat(tags.ToArray().Select(t => $"[{t.Value}]"));
    lock (measurements) measurements[key] = measurements.GetValueOrDefault(key) + value;
});
listener.Start();

foreach (var store in new[] { "Lru", "LiteDb", "Redis" })
{
    var services = new ServiceCollection();
    var nat = services.AddNat(configuration.GetSection("Nat"));
    _ = store switch
    {
        "Lru" => nat.UseLruStore(configuration.GetSection("Lru")),
        "LiteDb" => nat.UseLiteDbStore(configuration.GetSection("LiteDb")),
        _ => nat.UseRedisStore(configuration.GetSection("Redis")),
    };
    using var provider = services.BuildServiceProvider();
    var translator = provider.GetRequiredService<INatTranslator>();

    var packet = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("198.51.100.2"), 53, "query"u8);
    var result = await translator.TranslateAsync(packet, NatSide.Inside);
    Ipv4Packet.TryParse(packet, out var ip);
    Console.WriteLine($"{store}: {result.Status} created={result.Created} source={ip.Source} udp-timeout={translator.Options.UdpTimeout.TotalSeconds}s");
}

listener.RecordObservableInstruments();
lock (measurements)
{
    Console.WriteLine($"meter: translated={measurements.GetValueOrDefault("natframework.packets.translated[outbound]")} " +
        $"created={measurements.GetValueOrDefault("natframework.connections.created")}");
}
