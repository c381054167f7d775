using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace NatFramework.Packets;

/// <summary>
/// The Internet checksum: the one's-complement of the one's-complement sum of 16-bit words.
/// Full computation per RFC 1071; incremental update per RFC 1624 (eqn. 3: <c>HC' = ~(~HC + ~m + m')</c>).
/// Every checksum in NatFramework goes through here.
/// </summary>
public static class InternetChecksum
{
    /// <summary>
    /// Adds <paramref name="data"/>, read as big-endian 16-bit words (an odd last byte is padded with zero),
    /// to <paramref name="initial"/> and returns the unfolded 32-bit sum. Chain calls only at even offsets.
    /// </summary>
    /// <param name="data">The bytes.</param>
    /// <param name="initial">A sum to start from (e.g. the pseudo-header's).</param>
    /// <returns>The 32-bit ones'-complement sum, not folded.</returns>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        // RFC 1071 §2(B): the sum is byte-order independent, so words are summed in little-endian
        // eight bytes at a time and the folded result is swapped once at the end.
        ulong acc = 0;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
            acc += (v & 0xFFFFFFFF) + (v >> 32);
        }
        if (i + 4 <= data.Length) { acc += BinaryPrimitives.ReadUInt32LittleEndian(data[i..]); i += 4; }
        if (i + 2 <= data.Length) { acc += BinaryPrimitives.ReadUInt16LittleEndian(data[i..]); i += 2; }
        if (i < data.Length) acc += data[i];
        acc = (acc & 0xFFFFFFFF) + (acc >> 32);
        acc = (acc & 0xFFFFFFFF) + (acc >> 32);
        uint folded = Fold((uint)acc);
        return initial + BinaryPrimitives.ReverseEndianness((ushort)folded);
    }

    /// <summary>Folds a 32-bit one's-complement sum into 16 bits (end-around carry).</summary>
    /// <param name="sum">A running checksum delta, updated with the field's change.</param>
    /// <returns>The sum folded to 16 bits.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum of <paramref name="data"/> plus an initial partial sum (e.g. a pseudo-header).</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="initial">A sum to start from (e.g. the pseudo-header's).</param>
    /// <returns>The checksum to write (the complement of the folded sum).</returns>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Fold(Sum(data, initial));

    /// <summary>True when <paramref name="data"/>, checksum field included, sums to 0xFFFF (RFC 1071 verification).</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="initial">A sum to start from (e.g. the pseudo-header's).</param>
    /// <returns>True when the data, checksum field included, sums to all ones.</returns>
    public static bool Verify(ReadOnlySpan<byte> data, uint initial = 0) => Fold(Sum(data, initial)) == 0xFFFF;

    /// <summary>The partial sum of the TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768).</summary>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The buffer to write into.</param>
    /// <param name="protocol">The IP protocol number.</param>
    /// <param name="transportLength">The length of the transport header and payload.</param>
    /// <returns>The sum of the TCP/UDP pseudo-header, to start a transport checksum from.</returns>
    public static uint PseudoHeaderSum(Ipv4Address source, Ipv4Address destination, byte protocol, int transportLength)
        => (source.Value >> 16) + (source.Value & 0xFFFF) + (destination.Value >> 16) + (destination.Value & 0xFFFF)
           + protocol + (uint)transportLength;

    /// <summary>The RFC 1624 contribution of one 16-bit field changing from <paramref name="oldValue"/> to <paramref name="newValue"/>.</summary>
    /// <param name="oldValue">The value before the change.</param>
    /// <param name="newValue">The value after it.</param>
    /// <returns>The ones'-complement difference, to apply to a checksum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Delta(ushort oldValue, ushort newValue) => (uint)(ushort)~oldValue + newValue;

    /// <summary>The RFC 1624 contribution of one 32-bit field (two words) changing.</summary>
    /// <param name="oldValue">The value before the change.</param>
    /// <param name="newValue">The value after it.</param>
    /// <returns>The ones'-complement difference, to apply to a checksum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Delta(uint oldValue, uint newValue)
        => Delta((ushort)(oldValue >> 16), (ushort)(newValue >> 16)) + Delta((ushort)oldValue, (ushort)newValue);

    /// <summary>Applies accumulated deltas to a checksum: <c>HC' = ~(~HC + Σ(~m + m'))</c> (RFC 1624 eqn. 3).</summary>
    /// <param name="checksum">The checksum before the change.</param>
    /// <param name="delta">The ones'-complement difference to apply.</param>
    /// <returns>The updated checksum (RFC 1624).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Apply(ushort checksum, uint delta) => (ushort)~Fold((ushort)~checksum + delta);

    /// <summary>Updates a checksum for one 16-bit field change.</summary>
    /// <param name="checksum">The checksum before the change.</param>
    /// <param name="oldValue">The value before the change.</param>
    /// <param name="newValue">The value after it.</param>
    /// <returns>The updated checksum (RFC 1624).</returns>
    public static ushort Update(ushort checksum, ushort oldValue, ushort newValue) => Apply(checksum, Delta(oldValue, newValue));

    /// <summary>Updates a checksum for one 32-bit field change.</summary>
    /// <param name="checksum">The checksum before the change.</param>
    /// <param name="oldValue">The value before the change.</param>
    /// <param name="newValue">The value after it.</param>
    /// <returns>The updated checksum (RFC 1624).</returns>
    public static ushort Update(ushort checksum, uint oldValue, uint newValue) => Apply(checksum, Delta(oldValue, newValue));

    /// <summary>
    /// Writes a 16-bit big-endian field at an even offset of a checksummed region and adds the change to
    /// <paramref name="delta"/>, so the region's checksum can be updated once after several writes.
    /// </summary>
    /// <param name="region">The bytes to rewrite.</param>
    /// <param name="offset">Where the field starts.</param>
    /// <param name="value">The new value of the field.</param>
    /// <param name="delta">The ones'-complement difference to apply.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write16(Span<byte> region, int offset, ushort value, ref uint delta)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(region[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(region[offset..], value);
        delta += Delta(old, value);
    }

    /// <summary>Like <see cref="Write16"/> for a 32-bit field at an even offset.</summary>
    /// <param name="region">The bytes to rewrite.</param>
    /// <param name="offset">Where the field starts.</param>
    /// <param name="value">The new value of the field.</param>
    /// <param name="delta">The ones'-complement difference to apply.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write32(Span<byte> region, int offset, uint value, ref uint delta)
    {
        uint old = BinaryPrimitives.ReadUInt32BigEndian(region[offset..]);
        BinaryPrimitives.WriteUInt32BigEndian(region[offset..], value);
        delta += Delta(old, value);
    }
}
