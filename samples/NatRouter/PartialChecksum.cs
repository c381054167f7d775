using System.Buffers.Binary;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// TCP/UDP checksums a TUN device with offloads leaves unfinished (<see cref="VirtioNetHeader.NeedsChecksum"/>): the
/// field holds only the one's-complement sum of the pseudo-header, not complemented, and the kernel adds the transport
/// header and payload when it sends the packet on. The NAT's incremental update assumes a finished checksum, so the
/// router puts the field right afterwards: the pseudo-header sum changes with the addresses only (RFC 1624 applied to
/// an uncomplemented sum: S' = S + ~m + m'), because the ports are in the part the kernel still sums.
/// </summary>
public static class PartialChecksum
{
    /// <summary>The IPv4 addresses of a packet, read before translation.</summary>
    public static ulong ReadAddresses(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt64BigEndian(packet[12..]);

    /// <summary>
    /// Rewrites the unfinished checksum at <paramref name="checksumStart"/> + <paramref name="checksumOffset"/> for the
    /// addresses the packet has now, given the field as it was (<paramref name="sumBefore"/>) and the addresses before.
    /// </summary>
    public static void Readdress(Span<byte> packet, int checksumStart, int checksumOffset, ushort sumBefore, ulong addressesBefore)
    {
        ulong addressesAfter = ReadAddresses(packet);
        uint delta = InternetChecksum.Delta((uint)(addressesBefore >> 32), (uint)(addressesAfter >> 32))
                   + InternetChecksum.Delta((uint)addressesBefore, (uint)addressesAfter);
        ushort sum = InternetChecksum.Fold(sumBefore + delta);
        BinaryPrimitives.WriteUInt16BigEndian(packet[(checksumStart + checksumOffset)..], sum);
    }

    /// <summary>The unfinished checksum field as it is now.</summary>
    public static ushort Read(ReadOnlySpan<byte> packet, int checksumStart, int checksumOffset)
        => BinaryPrimitives.ReadUInt16BigEndian(packet[(checksumStart + checksumOffset)..]);

    /// <summary>
    /// Finishes the checksum in software (before the router cuts the packet into fragments, which the kernel would not
    /// checksum as a whole): sums everything from <paramref name="checksumStart"/>, the pseudo-header sum included.
    /// A UDP result of 0 is sent as 0xFFFF (RFC 768).
    /// </summary>
    public static void Finish(Span<byte> packet, int checksumStart, int checksumOffset, bool udp)
    {
        ushort checksum = InternetChecksum.Compute(packet[checksumStart..]);
        if (udp && checksum == 0) checksum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(packet[(checksumStart + checksumOffset)..], checksum);
    }

    /// <summary>True when the packet's bytes allow the checksum position the header names.</summary>
    public static bool IsValidPosition(int packetLength, int checksumStart, int checksumOffset)
        => checksumStart >= 20 && checksumOffset >= 0 && checksumStart + checksumOffset + 2 <= packetLength;
}
