using System.Buffers.Binary;
using NatFramework.Packets;

namespace NatFramework.Fragmentation;

/// <summary>What <see cref="Ipv4Fragmenter.Fragment"/> did.</summary>
public enum FragmentationStatus : byte
{
    /// <summary>The datagram fits the MTU: send it as it is; nothing was written.</summary>
    Fits,
    /// <summary>The datagram was split; the fragments are in the output.</summary>
    Fragmented,
    /// <summary>DF is set and the datagram is larger than the MTU: answer ICMP 3/4 with <see cref="FragmentationResult.Mtu"/> (RFC 1191).</summary>
    DontFragmentTooBig,
    /// <summary>The output buffer or range array is too small for the fragments.</summary>
    OutputTooSmall,
}

/// <summary>The outcome of fragmenting one datagram.</summary>
/// <param name="Status">What happened.</param>
/// <param name="FragmentCount">How many fragments were written (for <see cref="FragmentationStatus.Fragmented"/>).</param>
/// <param name="Mtu">The MTU the datagram did not fit (for <see cref="FragmentationStatus.DontFragmentTooBig"/>).</param>
public readonly record struct FragmentationResult(FragmentationStatus Status, int FragmentCount, int Mtu);

/// <summary>
/// Splits a datagram into fragments that fit an MTU (RFC 791 §3.2 "Fragmentation"): data in multiples of
/// 8 bytes, MF on every fragment but the last (the last keeps the original MF, so fragments can be
/// fragmented again), offsets relative to the original datagram, and only options whose copied flag is
/// set repeated after the first fragment.
/// </summary>
public static class Ipv4Fragmenter
{
    /// <summary>The smallest MTU every IPv4 link must support (RFC 791).</summary>
    public const int MinimumMtu = 68;

    /// <summary>
    /// Fragments <paramref name="packet"/> for <paramref name="mtu"/>, writing the fragments one after another
    /// into <paramref name="output"/> and their positions into <paramref name="fragments"/>.
    /// </summary>
    /// <param name="packet">The datagram to fragment.</param>
    /// <param name="mtu">The largest datagram the link carries.</param>
    /// <param name="output">Where the fragments are written.</param>
    /// <param name="fragments">Receives where each fragment is in output.</param>
    /// <returns>How many fragments were written, or why none could be.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The MTU is below 68 or above 65535.</exception>
    public static FragmentationResult Fragment(in Ipv4Packet packet, int mtu, Span<byte> output, Span<Range> fragments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, MinimumMtu);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, Ipv4Packet.MaxLength);
        if (packet.TotalLength <= mtu) return new(FragmentationStatus.Fits, 0, mtu);
        if (packet.DontFragment) return new(FragmentationStatus.DontFragmentTooBig, 0, mtu);

        var header = packet.Header;
        Span<byte> copiedOptions = stackalloc byte[40];
        int copiedLength = CopiedOptions(packet.Options, copiedOptions);
        int laterHeaderLength = Ipv4Packet.MinHeaderLength + (copiedLength + 3) / 4 * 4;
        var payload = packet.Payload;
        int baseOffset = packet.FragmentOffset;
        bool originalMoreFragments = packet.MoreFragments;

        int count = 0, written = 0, offset = 0;
        while (offset < payload.Length)
        {
            bool first = offset == 0;
            int headerLength = first ? packet.HeaderLength : laterHeaderLength;
            int room = (mtu - headerLength) & ~7;
            int length = Math.Min(room, payload.Length - offset);
            bool last = offset + length == payload.Length;
            int fragmentLength = headerLength + length;
            if (count == fragments.Length || written + fragmentLength > output.Length)
                return new(FragmentationStatus.OutputTooSmall, 0, mtu);

            var fragment = output.Slice(written, fragmentLength);
            header[..Ipv4Packet.MinHeaderLength].CopyTo(fragment);
            if (first)
            {
                header[Ipv4Packet.MinHeaderLength..].CopyTo(fragment[Ipv4Packet.MinHeaderLength..]);
            }
            else
            {
                var options = fragment[Ipv4Packet.MinHeaderLength..headerLength];
                options.Clear(); // pad with End of Option List
                copiedOptions[..copiedLength].CopyTo(options);
                fragment[0] = (byte)(0x40 | headerLength / 4);
            }
            payload.Slice(offset, length).CopyTo(fragment[headerLength..]);
            BinaryPrimitives.WriteUInt16BigEndian(fragment[Ipv4Packet.TotalLengthOffset..], (ushort)fragmentLength);
            ushort flags = (ushort)(((baseOffset + offset) / 8) | (!last || originalMoreFragments ? Ipv4Packet.MoreFragmentsFlag : 0));
            BinaryPrimitives.WriteUInt16BigEndian(fragment[Ipv4Packet.FlagsOffset..], flags);
            Ipv4Packet.RecomputeHeaderChecksum(fragment[..headerLength]);

            fragments[count++] = new Range(written, written + fragmentLength);
            written += fragmentLength;
            offset += length;
        }
        return new(FragmentationStatus.Fragmented, count, mtu);
    }

    /// <summary>Collects the options whose copied flag (bit 0x80 of the type) is set (RFC 791 §3.1).</summary>
    private static int CopiedOptions(ReadOnlySpan<byte> options, Span<byte> destination)
    {
        int written = 0, i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == 0) break;        // End of Option List
            if (type == 1) { i++; continue; } // No Operation: single byte, not copied
            if (i + 1 >= options.Length) break;
            int length = options[i + 1];
            if (length < 2 || i + length > options.Length) break; // malformed: copy nothing further
            if ((type & 0x80) != 0)
            {
                options.Slice(i, length).CopyTo(destination[written..]);
                written += length;
            }
            i += length;
        }
        return written;
    }
}
