using NatFramework;
using NatFramework.Packets;

namespace CustomStore;

/// <summary>Shows a custom store at work: one outbound UDP packet is NATed and its reply translated back.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main()
    {
        var translator = new DictionaryNatTranslator(new DictionaryNatStore(), new NatOptions { PublicAddress = Ipv4Address.Parse("198.51.100.1") });
        var inside = Ipv4Address.Parse("10.77.0.2");
        var outside = Ipv4Address.Parse("198.51.100.2");
        var request = Ipv4PacketBuilder.Udp(inside, 40000, outside, 53, "query"u8);

        var added = translator.AddNat(request); // through the public address of the options
        var translated = translator.Translate(request);
        Ipv4Packet.TryParse(request, out var sent);
        Console.WriteLine($"add: {added.Status}; outbound: {translated.Status} as {sent.Source}:{sent.Udp.SourcePort} -> {sent.Destination}:{sent.Udp.DestinationPort}");

        var reply = Ipv4PacketBuilder.Udp(outside, 53, sent.Source, sent.Udp.SourcePort, "answer"u8);
        var back = translator.Translate(reply);
        Ipv4Packet.TryParse(reply, out var delivered);
        Console.WriteLine($"reply: {back.Status} to {delivered.Destination}:{delivered.Udp.DestinationPort}");
        return back.IsTranslated && delivered.Destination == inside ? 0 : 1;
    }
}
