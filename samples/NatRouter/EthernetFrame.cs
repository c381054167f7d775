using System.Buffers.Binary;

namespace NatRouter;

/// <summary>
/// Ethernet II framing and ARP for IPv4 over Ethernet (RFC 826), what a router on a link layer (an AF_XDP port) needs
/// around its IP packets. MAC addresses are held as the low 48 bits of a <see cref="ulong"/>, first octet highest.
/// </summary>
internal static class EthernetFrame
{
    /// <summary>Destination MAC, source MAC, EtherType.</summary>
    public const int HeaderLength = 14;
    public const ushort Ipv4Type = 0x0800, ArpType = 0x0806;
    /// <summary>An ARP packet for IPv4 over Ethernet: 8 bytes of header, two MAC and IPv4 address pairs.</summary>
    public const int ArpLength = 28;
    public const ushort ArpRequest = 1, ArpReply = 2;
    public const ulong Broadcast = 0xFFFF_FFFF_FFFF;

    /// <summary>Reads a MAC address.</summary>
    public static ulong ReadMac(ReadOnlySpan<byte> bytes) =>
        (ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32 | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]);

    /// <summary>Writes a MAC address.</summary>
    public static void WriteMac(Span<byte> bytes, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(bytes[2..], (uint)mac);
    }

    /// <summary>Writes an Ethernet header.</summary>
    public static void WriteHeader(Span<byte> frame, ulong destination, ulong source, ushort etherType)
    {
        WriteMac(frame, destination);
        WriteMac(frame[6..], source);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], etherType);
    }

    /// <summary>True for a group (multicast or broadcast) destination: the lowest bit of the first octet.</summary>
    public static bool IsGroup(ulong mac) => (mac & 0x0100_0000_0000) != 0;

    /// <summary>The MAC written as six hexadecimal pairs.</summary>
    public static string Format(ulong mac) => string.Join(':', Enumerable.Range(0, 6).Select(i => ((byte)(mac >> (40 - 8 * i))).ToString("x2")));

    /// <summary>
    /// Reads an ARP packet (the frame's payload); false unless it is Ethernet hardware, IPv4 protocol, with 6- and
    /// 4-byte addresses.
    /// </summary>
    public static bool TryReadArp(ReadOnlySpan<byte> payload, out Arp arp)
    {
        arp = default;
        if (payload.Length < ArpLength) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(payload) != 1 || BinaryPrimitives.ReadUInt16BigEndian(payload[2..]) != Ipv4Type
            || payload[4] != 6 || payload[5] != 4) return false;
        arp = new Arp(BinaryPrimitives.ReadUInt16BigEndian(payload[6..]), ReadMac(payload[8..]), BinaryPrimitives.ReadUInt32BigEndian(payload[14..]),
            ReadMac(payload[18..]), BinaryPrimitives.ReadUInt32BigEndian(payload[24..]));
        return true;
    }

    /// <summary>Writes a whole ARP frame (Ethernet header and ARP packet, <see cref="HeaderLength"/> + <see cref="ArpLength"/> bytes).</summary>
    public static void WriteArp(Span<byte> frame, ulong destination, ulong source, in Arp arp)
    {
        WriteHeader(frame, destination, source, ArpType);
        var packet = frame.Slice(HeaderLength, ArpLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet, 1);
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], Ipv4Type);
        packet[4] = 6;
        packet[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(packet[6..], arp.Operation);
        WriteMac(packet[8..], arp.SenderMac);
        BinaryPrimitives.WriteUInt32BigEndian(packet[14..], arp.SenderAddress);
        WriteMac(packet[18..], arp.TargetMac);
        BinaryPrimitives.WriteUInt32BigEndian(packet[24..], arp.TargetAddress);
    }

    /// <summary>The fields of an ARP packet for IPv4 over Ethernet.</summary>
    public readonly record struct Arp(ushort Operation, ulong SenderMac, uint SenderAddress, ulong TargetMac, uint TargetAddress);
}
