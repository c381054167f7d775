using System.Buffers.Binary;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework.Translation;

/// <summary>
/// The packet nearly all traffic is, read and rewritten with raw loads: an IPv4 header without options and with a valid
/// checksum, TTL above 1, not a fragment, a whole TCP or UDP header. Everything else goes through <see cref="PacketPlanner"/>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CommonFlow
{
    private const int UdpDatagram = Ipv4Packet.MinHeaderLength + UdpHeader.Length;
    private const int TcpDatagram = Ipv4Packet.MinHeaderLength + TcpHeader.MinLength;
    private const int TcpFlagsAt = Ipv4Packet.MinHeaderLength + TcpHeader.FlagsOffset;

    /// <summary>
    /// Reads the flow of a common packet (see the class); false for anything else, which <see cref="PacketPlanner.Plan"/>
    /// then parses and classifies in full. Never throws on packet bytes.
    /// </summary>
    /// <param name="packet">The datagram, link padding allowed after it.</param>
    /// <param name="key">The packet's flow.</param>
    /// <returns>True for a common packet.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(Span<byte> packet, out FlowKey key) => ReadCommon(packet, out key, tcpControlIsCommon: true);

    /// <summary>
    /// As <see cref="TryRead(Span{byte}, out FlowKey)"/>, but false also for a TCP segment with SYN, FIN or RST, which may
    /// change its connection's state (<see cref="TcpStateTracker"/>) and so takes the state path: what the packet path of
    /// an established flow needs to know, decided while the flags byte is at hand.
    /// </summary>
    /// <param name="packet">The datagram, link padding allowed after it.</param>
    /// <param name="key">The packet's flow.</param>
    /// <returns>True for a common packet that cannot change a TCP state.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadEstablished(Span<byte> packet, out FlowKey key) => ReadCommon(packet, out key, tcpControlIsCommon: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ReadCommon(Span<byte> packet, out FlowKey key, bool tcpControlIsCommon)
    {
        // Written with raw reads after one length check: span slices and BinaryPrimitives calls are each an inlinee,
        // and together they used up the JIT's inlining budget for the translator method this is inlined into.
        if (packet.Length >= UdpDatagram)
        {
            ref byte ip = ref MemoryMarshal.GetReference(packet);
            int totalLength = BigEndian16(ref ip, Ipv4Packet.TotalLengthOffset);
            byte protocol = Unsafe.Add(ref ip, Ipv4Packet.ProtocolOffset);
            // Version 4 with IHL 5, MF clear and fragment offset 0 (DF may be set), TTL above 1.
            bool common = ip == 0x45 && totalLength <= packet.Length && Unsafe.Add(ref ip, Ipv4Packet.TtlOffset) > 1
                && ((Unsafe.Add(ref ip, Ipv4Packet.FlagsOffset) & 0x3F) | Unsafe.Add(ref ip, Ipv4Packet.FlagsOffset + 1)) == 0;
            if (protocol == (byte)IpProtocol.Udp)
            {
                // RFC 768: the UDP Length covers header and data, within the datagram (the full parse names the error).
                int udpLength = BigEndian16(ref ip, Ipv4Packet.MinHeaderLength + UdpHeader.LengthOffset);
                common &= totalLength >= UdpDatagram && udpLength >= UdpHeader.Length && udpLength <= totalLength - Ipv4Packet.MinHeaderLength;
            }
            else if (protocol == (byte)IpProtocol.Tcp)
            {
                // The data offset byte (offset 32) is read only once the lengths show the buffer holds a whole TCP header.
                common &= totalLength >= TcpDatagram;
                if (common)
                {
                    int dataOffset = (Unsafe.Add(ref ip, Ipv4Packet.MinHeaderLength + TcpHeader.DataOffsetOffset) >> 4) * 4;
                    common = dataOffset >= TcpHeader.MinLength && dataOffset <= totalLength - Ipv4Packet.MinHeaderLength
                        && (tcpControlIsCommon || !TcpStateTracker.MayChangeState(Unsafe.Add(ref ip, TcpFlagsAt)));
                }
            }
            else common = false;
            if (common && HeaderChecksumValid(ref ip))
            {
                key = new FlowKey((NatProtocol)protocol,
                    new Ipv4Address(BigEndian32(ref ip, Ipv4Packet.SourceOffset)), BigEndian16(ref ip, Ipv4Packet.MinHeaderLength),
                    new Ipv4Address(BigEndian32(ref ip, Ipv4Packet.DestinationOffset)), BigEndian16(ref ip, Ipv4Packet.MinHeaderLength + 2));
                return true;
            }
        }
        key = default;
        return false;
    }

    /// <summary>The checksum of a 20-byte header: its five words summed in the machine's order (RFC 1071 §2(B)) fold to 0xFFFF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HeaderChecksumValid(ref byte ip)
    {
        ulong sum = (ulong)Unsafe.ReadUnaligned<uint>(ref ip) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 4))
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 8)) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 12))
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 16));
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        return InternetChecksum.Fold((uint)sum) == 0xFFFF;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort BigEndian16(ref byte at, int offset)
    {
        ushort value = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref at, offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint BigEndian32(ref byte at, int offset)
    {
        uint value = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref at, offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    /// <summary>
    /// Rewrites a packet <see cref="TryRead"/> accepted (and nothing since changed) to a found connection's flow:
    /// addresses, ports, one less TTL, both checksums updated incrementally.
    /// </summary>
    /// <param name="packet">The packet, as read.</param>
    /// <param name="rewrite">What it becomes.</param>
    /// <returns>The translated result.</returns>
    /// <exception cref="ArgumentException">The packet has IP options or is too short to be a TCP or UDP datagram.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NatTranslateResult Rewrite(Span<byte> packet, in FlowRewrite rewrite)
    {
        // Cheap guards, because the rewrite writes without bounds checks at fixed offsets: a 20-byte header, and room up
        // to the transport checksum (TCP's is the farthest field).
        if (packet.Length < UdpDatagram || packet[0] != 0x45
            || (packet.Length < TcpDatagram && packet[Ipv4Packet.ProtocolOffset] != (byte)IpProtocol.Udp))
            ThrowNotCommon();
        FlowRewriter.RewriteWhole(ref MemoryMarshal.GetReference(packet), Ipv4Packet.MinHeaderLength,
            (IpProtocol)packet[Ipv4Packet.ProtocolOffset], rewrite.To, decrementTtl: true);
        return NatTranslateResult.Translated(rewrite.Direction);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotCommon() => throw new ArgumentException("CommonFlow.Rewrite needs a packet CommonFlow.TryRead accepted.", "packet");
}
