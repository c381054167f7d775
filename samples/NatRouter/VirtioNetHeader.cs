using System.Buffers.Binary;

namespace NatRouter;

/// <summary>
/// The header a TUN device with IFF_VNET_HDR puts before each packet (struct virtio_net_hdr, 10 bytes, little-endian on
/// this machine): whether the transport checksum is left to finish and where, and whether the packet is a TCP segment
/// train (GSO) that the receiver cuts at <see cref="SegmentSize"/>.
/// <code>
///  0      flags (1 = NEEDS_CSUM)    1 gso_type (0 none, 1 TCPv4, 0x80 ECN bit)
///  2..3   hdr_len                   4..5 gso_size
///  6..7   csum_start                8..9 csum_offset
/// </code>
/// </summary>
public readonly ref struct VirtioNetHeader
{
    /// <summary>The header's length.</summary>
    public const int Length = 10;
    private const byte NeedsChecksumFlag = 1;
    private readonly ReadOnlySpan<byte> _bytes;

    /// <summary>Reads the header at the start of <paramref name="frame"/> (at least <see cref="Length"/> bytes).</summary>
    public VirtioNetHeader(ReadOnlySpan<byte> frame) => _bytes = frame[..Length];

    /// <summary>
    /// The transport checksum field holds only the pseudo-header sum (not complemented); whoever sends the packet on
    /// sums the transport header and payload into it (Linux CHECKSUM_PARTIAL).
    /// </summary>
    public bool NeedsChecksum => (_bytes[0] & NeedsChecksumFlag) != 0;

    /// <summary>True for a TCP segment train larger than the MTU, which the kernel cuts into segments.</summary>
    public bool IsSegmentTrain => (_bytes[1] & 0x7F) != 0;

    /// <summary>The segment size of a segment train.</summary>
    public ushort SegmentSize => BinaryPrimitives.ReadUInt16LittleEndian(_bytes[4..]);

    /// <summary>Where checksumming starts, from the start of the IP packet.</summary>
    public ushort ChecksumStart => BinaryPrimitives.ReadUInt16LittleEndian(_bytes[6..]);

    /// <summary>Where the checksum field is, from <see cref="ChecksumStart"/>.</summary>
    public ushort ChecksumOffset => BinaryPrimitives.ReadUInt16LittleEndian(_bytes[8..]);

    /// <summary>Writes the header of a plain packet: complete checksums, no segmentation.</summary>
    public static void WritePlain(Span<byte> frame) => frame[..Length].Clear();
}
