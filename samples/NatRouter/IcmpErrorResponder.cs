using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// The ICMP errors the router itself sends — Time Exceeded for TTL ≤ 1, Fragmentation Needed for a packet too big with
/// DF set — back out of the interface the offending packet came in on, from the router's own address on that side. At
/// most one per interval across both interfaces and every lane (RFC 1812 §4.3.2.8), never about an ICMP error (RFC 1122
/// §3.2.2). What it sends is counted in the answering lane's cell.
/// </summary>
internal sealed class IcmpErrorResponder(RouterSettings settings)
{
    private static readonly long IntervalTicks = TimeSpan.FromMilliseconds(10).Ticks * System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond;
    private long _lastSentAt = long.MinValue / 2;

    /// <summary>Answers <paramref name="offending"/> with an ICMP error written to <paramref name="back"/>, when the rate allows.</summary>
    public void Answer(Span<byte> offending, IPacketPort back, int header, IcmpType type, byte code, uint restOfHeader, bool towardsInside, CounterCell counters)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        long last = Interlocked.Read(ref _lastSentAt);
        if (now - last < IntervalTicks || Interlocked.CompareExchange(ref _lastSentAt, now, last) != last) return;
        if (Ipv4Packet.TryParse(offending, out var ip) != PacketError.None || (ip.Protocol == IpProtocol.Icmp && ip.Icmp.IsError)) return;
        Span<byte> frame = stackalloc byte[VirtioNetHeader.Length + 576];
        frame[..header].Clear();
        var source = towardsInside ? settings.PrivateAddress : settings.PublicAddress;
        int length = Ipv4PacketBuilder.WriteIcmpError(frame[header..], type, code, source, ip.Source, offending, 8, restOfHeader);
        if (!back.Write(frame[..(header + length)])) return;
        counters.Sent(towardsInside);
        counters.IcmpSent(type);
    }
}
