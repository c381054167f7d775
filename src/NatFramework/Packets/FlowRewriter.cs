using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NatFramework.Packets;

/// <summary>
/// Rewrites datagrams in place with incremental checksum updates (RFC 1624): never a full recompute,
/// so a packet whose checksum was wrong stays wrong and the receiver still sees the damage.
/// </summary>
public static class FlowRewriter
{
    /// <summary>
    /// Rewrites a whole TCP, UDP or ICMP-query datagram to the addresses and ports (identifier) of
    /// <paramref name="to"/>, updating the header checksum and the transport checksum (pseudo-header
    /// included). With <paramref name="decrementTtl"/> the TTL drops by one; the caller checks TTL first.
    /// DF and every other field are left as they are.
    /// </summary>
    /// <param name="packet">The parsed datagram, rewritten in place.</param>
    /// <param name="to">The flow the datagram becomes.</param>
    /// <param name="decrementTtl">Decrement the TTL as a forwarding router does.</param>
    /// <exception cref="ArgumentException">The packet is a fragment or its transport header is incomplete.</exception>
    public static void Rewrite(in Ipv4Packet packet, in FlowKey to, bool decrementTtl)
    {
        var bytes = packet.Bytes;
        int headerLength = packet.HeaderLength;
        var protocol = packet.Protocol;
        int needed = protocol == IpProtocol.Tcp ? TcpHeader.MinLength : UdpHeader.Length;
        if (packet.IsFragment || bytes.Length - headerLength < needed || protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Icmp))
            throw new ArgumentException("Rewrite needs a whole TCP, UDP or ICMP datagram; reassemble fragments first.", nameof(packet));
        RewriteWhole(ref MemoryMarshal.GetReference(bytes), headerLength, protocol, to, decrementTtl);
    }

    /// <summary>
    /// <see cref="Rewrite"/> without its checks, for callers that validated the datagram already: a whole TCP, UDP or
    /// ICMP query datagram whose transport header is complete, TTL at least 1 when <paramref name="decrementTtl"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RewriteWhole(ref byte ip, int headerLength, IpProtocol protocol, in FlowKey to, bool decrementTtl)
    {
        // RFC 1071 §2(B): the one's-complement sum does not depend on byte order, so every word below is read, summed
        // and written in the machine's order, with no byte swapping and no per-field bounds checks (lengths checked by the caller).
        uint oldSource = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, Ipv4Packet.SourceOffset));
        uint oldDestination = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, Ipv4Packet.DestinationOffset));
        uint newSource = Native(to.Source.Value), newDestination = Native(to.Destination.Value);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref ip, Ipv4Packet.SourceOffset), newSource);
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref ip, Ipv4Packet.DestinationOffset), newDestination);
        uint addressDelta = Words(~oldSource) + Words(newSource) + Words(~oldDestination) + Words(newDestination);

        uint headerDelta = addressDelta;
        if (decrementTtl)
        {
            ref byte ttlWord = ref Unsafe.Add(ref ip, Ipv4Packet.TtlOffset);
            ushort before = Unsafe.ReadUnaligned<ushort>(ref ttlWord);
            // The TTL is the word's first byte. The new word is computed rather than re-read after a byte store: a
            // wider load of a just-stored byte cannot be forwarded from the store buffer and stalls.
            ushort after = BitConverter.IsLittleEndian
                ? (ushort)((before & 0xFF00) | (byte)(before - 1))
                : (ushort)((before & 0x00FF) | ((before - 0x0100) & 0xFF00));
            Unsafe.WriteUnaligned(ref ttlWord, after);
            headerDelta += (ushort)~before + (uint)after;
        }
        ApplyNative(ref Unsafe.Add(ref ip, Ipv4Packet.ChecksumOffset), headerDelta, zeroMeansNone: false);

        ref byte transport = ref Unsafe.Add(ref ip, headerLength);
        if (protocol == IpProtocol.Icmp)
        {
            // ICMP has no pseudo-header: only the identifier enters its checksum.
            ref byte id = ref Unsafe.Add(ref transport, IcmpHeader.IdentifierOffset);
            ushort oldId = Unsafe.ReadUnaligned<ushort>(ref id), newId = Native(to.Identifier);
            Unsafe.WriteUnaligned(ref id, newId);
            ApplyNative(ref Unsafe.Add(ref transport, IcmpHeader.ChecksumOffset), (ushort)~oldId + (uint)newId, zeroMeansNone: false);
            return;
        }
        uint oldPorts = Unsafe.ReadUnaligned<uint>(ref transport);
        uint newPorts = Native((uint)to.SourcePort << 16 | to.DestinationPort);
        Unsafe.WriteUnaligned(ref transport, newPorts);
        uint delta = addressDelta + Words(~oldPorts) + Words(newPorts);
        if (protocol == IpProtocol.Tcp)
            ApplyNative(ref Unsafe.Add(ref transport, TcpHeader.ChecksumOffset), delta, zeroMeansNone: false);
        else
            ApplyNative(ref Unsafe.Add(ref transport, UdpHeader.ChecksumOffset), delta, zeroMeansNone: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Native(uint networkOrderValue) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkOrderValue) : networkOrderValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Native(ushort networkOrderValue) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkOrderValue) : networkOrderValue;

    /// <summary>The sum of the two 16-bit words of a 32-bit value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Words(uint value) => (value & 0xFFFF) + (value >> 16);

    /// <summary>
    /// RFC 1624 eqn. 3 on a checksum field read in machine order. For UDP, 0 means "no checksum" and stays 0, and a
    /// result of 0 is written as 0xFFFF (RFC 768); the byte order does not matter for either value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ApplyNative(ref byte field, uint delta, bool zeroMeansNone)
    {
        ushort old = Unsafe.ReadUnaligned<ushort>(ref field);
        if (zeroMeansNone && old == 0) return;
        ushort updated = InternetChecksum.Apply(old, delta);
        Unsafe.WriteUnaligned(ref field, zeroMeansNone && updated == 0 ? (ushort)0xFFFF : updated);
    }

    /// <summary>
    /// Rewrites an ICMP error (RFC 792) whose embedded datagram belongs to a translated flow, as RFC 5508
    /// REQ-4 and RFC 5382/4787 require: the embedded header's addresses and ports (or identifier) become
    /// <paramref name="embedded"/>, the embedded IP checksum and the embedded transport checksum are
    /// updated incrementally (even though the truncated copy cannot be verified), the ICMP checksum is
    /// updated for every changed word, and the outer header gets the new addresses and one less TTL.
    /// The embedded header's TTL and other fields are kept. The caller has validated the embedded datagram
    /// with <see cref="IcmpErrorView.TryRead"/>.
    /// </summary>
    /// <param name="packet">The parsed datagram, rewritten in place.</param>
    /// <param name="embedded">The flow of the datagram the error quotes.</param>
    /// <param name="decrementTtl">Decrement the TTL as a forwarding router does.</param>
    /// <param name="outerSource">The source the ICMP error itself gets.</param>
    /// <param name="outerDestination">The destination the ICMP error itself gets.</param>
    public static void RewriteIcmpError(in Ipv4Packet packet, in FlowKey embedded, Ipv4Address outerSource,
        Ipv4Address outerDestination, bool decrementTtl)
    {
        var message = packet.Payload;
        var inner = message[IcmpHeader.Length..];
        int innerHeaderLength = (inner[0] & 0x0F) * 4;
        uint icmpDelta = 0;

        uint innerAddressDelta = 0;
        InternetChecksum.Write32(inner, Ipv4Packet.SourceOffset, embedded.Source.Value, ref innerAddressDelta);
        InternetChecksum.Write32(inner, Ipv4Packet.DestinationOffset, embedded.Destination.Value, ref innerAddressDelta);
        icmpDelta += innerAddressDelta;
        ushort innerHeaderChecksum = BinaryPrimitives.ReadUInt16BigEndian(inner[Ipv4Packet.ChecksumOffset..]);
        InternetChecksum.Write16(inner, Ipv4Packet.ChecksumOffset, InternetChecksum.Apply(innerHeaderChecksum, innerAddressDelta), ref icmpDelta);

        var innerTransport = inner[innerHeaderLength..];
        switch ((IpProtocol)inner[Ipv4Packet.ProtocolOffset])
        {
            case IpProtocol.Tcp:
            {
                uint delta = innerAddressDelta;
                WritePortsTracked(innerTransport, embedded, ref delta, ref icmpDelta);
                // Only the first 8 bytes are guaranteed; the checksum at offset 16 is updated when present.
                if (innerTransport.Length >= TcpHeader.ChecksumOffset + 2)
                {
                    ushort old = BinaryPrimitives.ReadUInt16BigEndian(innerTransport[TcpHeader.ChecksumOffset..]);
                    InternetChecksum.Write16(innerTransport, TcpHeader.ChecksumOffset, InternetChecksum.Apply(old, delta), ref icmpDelta);
                }
                break;
            }
            case IpProtocol.Udp:
            {
                uint delta = innerAddressDelta;
                WritePortsTracked(innerTransport, embedded, ref delta, ref icmpDelta);
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(innerTransport[UdpHeader.ChecksumOffset..]);
                if (old != 0)
                {
                    ushort updated = InternetChecksum.Apply(old, delta);
                    InternetChecksum.Write16(innerTransport, UdpHeader.ChecksumOffset, updated == 0 ? (ushort)0xFFFF : updated, ref icmpDelta);
                }
                break;
            }
            case IpProtocol.Icmp:
            {
                uint delta = 0;
                InternetChecksum.Write16(innerTransport, IcmpHeader.IdentifierOffset, embedded.Identifier, ref delta);
                icmpDelta += delta;
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(innerTransport[IcmpHeader.ChecksumOffset..]);
                InternetChecksum.Write16(innerTransport, IcmpHeader.ChecksumOffset, InternetChecksum.Apply(old, delta), ref icmpDelta);
                break;
            }
        }
        UpdateChecksumAt(message, IcmpHeader.ChecksumOffset, icmpDelta);

        var bytes = packet.Bytes;
        uint headerDelta = 0;
        InternetChecksum.Write32(bytes, Ipv4Packet.SourceOffset, outerSource.Value, ref headerDelta);
        InternetChecksum.Write32(bytes, Ipv4Packet.DestinationOffset, outerDestination.Value, ref headerDelta);
        if (decrementTtl)
        {
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(bytes[Ipv4Packet.TtlOffset..]);
            bytes[Ipv4Packet.TtlOffset]--;
            headerDelta += InternetChecksum.Delta(oldWord, (ushort)(oldWord - 0x0100));
        }
        UpdateChecksumAt(bytes, Ipv4Packet.ChecksumOffset, headerDelta);
    }

    private static void WritePortsTracked(Span<byte> transport, in FlowKey embedded, ref uint transportDelta, ref uint icmpDelta)
    {
        uint portDelta = 0;
        InternetChecksum.Write16(transport, 0, embedded.SourcePort, ref portDelta);
        InternetChecksum.Write16(transport, 2, embedded.DestinationPort, ref portDelta);
        transportDelta += portDelta;
        icmpDelta += portDelta;
    }

    private static void UpdateChecksumAt(Span<byte> region, int offset, uint delta)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(region[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(region[offset..], InternetChecksum.Apply(old, delta));
    }
}
