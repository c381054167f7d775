using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// The router's echo server (RFC 1812 §4.3.3.6): an echo request to the public address, from either side, or to the
/// router's inside address, from inside, is answered by the router instead of being translated. So an inside host can
/// ping the public address (with a NAPT that is what a hairpinned echo can mean: the public address names no inside
/// host for a query, whose identifier is the sender's own; RFC 5508 REQ-7 asks query hairpinning of Basic NAT only),
/// and an echo request from outside never reaches an inside host by matching a query identifier it guessed.
/// </summary>
internal sealed class EchoResponder(RouterSettings settings, CounterCell counters)
{
    private const byte DefaultTtl = 64;

    /// <summary>What became of a packet offered to the echo server.</summary>
    public enum Verdict
    {
        /// <summary>Not an echo request to the router: translate it as usual.</summary>
        NotForRouter,
        /// <summary>Turned into its echo reply in place: send it back where it came from.</summary>
        Answered,
        /// <summary>An echo request to the router whose ICMP checksum fails: dropped and counted.</summary>
        Damaged,
    }

    /// <summary>
    /// Looks at a whole datagram that arrived from inside (<paramref name="fromInside"/>) or outside; an echo request to
    /// the router becomes its reply, in place (addresses swapped, type 0, TTL 64, identifier, sequence and data kept).
    /// </summary>
    public Verdict Answer(Span<byte> packet, bool fromInside)
    {
        if (Ipv4Packet.TryParse(packet, out var ip) != PacketError.None || ip.Protocol != IpProtocol.Icmp || ip.IsFragment) return Verdict.NotForRouter;
        if (ip.Icmp.Type != IcmpType.EchoRequest || ip.Icmp.Code != 0) return Verdict.NotForRouter;
        bool toRouter = ip.Destination == settings.PublicAddress || (fromInside && ip.Destination == settings.PrivateAddress);
        if (!toRouter) return Verdict.NotForRouter;
        var message = ip.Payload;
        if (!InternetChecksum.Verify(message))
        {
            counters.Drop(PacketError.BadIcmpChecksum);
            return Verdict.Damaged;
        }
        // Type 8 → 0 changes the checksummed word 0x0800 → 0x0000; identifier, sequence and data go back as they came.
        ushort checksum = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        message[0] = (byte)IcmpType.EchoReply;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(message[2..], InternetChecksum.Update(checksum, (ushort)0x0800, (ushort)0x0000));
        var source = ip.Source;
        var destination = ip.Destination;
        destination.Write(packet[Ipv4Packet.SourceOffset..]);
        source.Write(packet[Ipv4Packet.DestinationOffset..]);
        packet[Ipv4Packet.TtlOffset] = DefaultTtl;
        Ipv4Packet.RecomputeHeaderChecksum(packet[..ip.HeaderLength]);
        return Verdict.Answered;
    }
}
