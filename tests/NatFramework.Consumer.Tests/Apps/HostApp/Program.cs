// A Generic Host application: the store is chosen by configuration ("Store"), options are bound from appsettings.json
// and validated when the host starts.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Packets;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
var nat = builder.Services.AddNat(builder.Configuration.GetSection("Nat"));
string store = builder.Configuration["Store"] ?? "Lru";
_ = store switch
{
    "Lru" => nat.UseLruStore(builder.Configuration.GetSection("Lru")),
    "LiteDb" => nat.UseLiteDbStore(builder.Configuration.GetSection("LiteDb")),
    "Redis" => nat.UseRedisStore(builder.Configuration.GetSection("Redis")),
    _ => throw new InvalidOperationException($"Store '{store}' is not Lru, LiteDb or Redis."),
};

using var host = builder.Build();
try
{
    await host.StartAsync();
}
catch (Exception e) when (e is OptionsValidationException || e is AggregateException all && all.InnerExceptions.All(i => i is OptionsValidationException))
{
    // The host validates every options type at start and reports each that failed (a store's options that start from
    // the NAT's fail with them).
    var messages = (e is AggregateException many ? many.InnerExceptions : [e]).Select(i => i.Message).Distinct();
    Console.WriteLine($"start-up error: {string.Join("; ", messages)}");
    return 2;
}

var translator = host.Services.GetRequiredService<INatTranslator>();
// A connection to the forwarded port from outside, then a new flow from inside.
var inbound = Ipv4PacketBuilder.Tcp(Ipv4Address.Parse("203.0.113.9"), 50000, Ipv4Address.Parse("198.51.100.1"), 8080, [], TcpFlags.Syn);
var forwarded = await translator.TranslateAsync(inbound, NatSide.Outside);
var outbound = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.3"), 5000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
var translated = await translator.TranslateAsync(outbound, NatSide.Inside);
Console.WriteLine($"{store}: forward {forwarded.Status} to {Addresses(inbound).Destination}; outbound {translated.Status} from {Addresses(outbound).Source}");

await host.StopAsync();
return 0;

// Ipv4Packet is a view over the bytes (a ref struct): read it where no await is in between.
static (Ipv4Address Source, Ipv4Address Destination) Addresses(byte[] packet)
{
    Ipv4Packet.TryParse(packet, out var ip);
    return (ip.Source, ip.Destination);
}
