using CsCheck;
using NatFramework.Packets;

namespace NatFramework.Tests.Packets;

public sealed class InternetChecksumTests
{
    // RFC 1071 §3 numerical example: the sum of 0001 f203 f4f5 f6f7 is ddf2, so the checksum is 220d.
    [Fact]
    public void Rfc_1071_example_gives_220d()
    {
        byte[] data = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];

        Assert.Equal(0xDDF2, InternetChecksum.Fold(InternetChecksum.Sum(data)));
        Assert.Equal(0x220D, InternetChecksum.Compute(data));
    }

    [Fact]
    public void Odd_length_pads_the_last_byte_with_zero()
    {
        Assert.Equal(InternetChecksum.Compute([0x12, 0x34, 0x56, 0x00]), InternetChecksum.Compute([0x12, 0x34, 0x56]));
    }

    [Fact]
    public void Sum_of_any_length_equals_a_word_by_word_reference()
    {
        Gen.Byte.Array[0, 200].Sample(data =>
        {
            uint reference = 0;
            for (int i = 0; i < data.Length; i += 2)
                reference += (uint)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
            Assert.Equal(InternetChecksum.Fold(reference), InternetChecksum.Fold(InternetChecksum.Sum(data)));
        }, iter: 20_000);
    }

    // RFC 1624 eqn. 3 must agree with recomputing from scratch for any data and any changed word.
    [Fact]
    public void Incremental_update_equals_full_recomputation()
    {
        Gen.Select(Gen.Byte.Array[2, 64], Gen.Int, Gen.UShort).Sample((data, at, value) =>
        {
            var copy = (byte[])data.Clone();
            int offset = (int)((uint)at % (uint)(copy.Length / 2)) * 2;
            ushort before = InternetChecksum.Compute(copy);
            ushort old = (ushort)(copy[offset] << 8 | copy[offset + 1]);
            copy[offset] = (byte)(value >> 8);
            copy[offset + 1] = (byte)value;
            ushort updated = InternetChecksum.Update(before, old, value);
            // One's complement has two zeros; the update may give 0x0000 where recomputation gives 0xFFFF only for all-zero data.
            Assert.Equal(InternetChecksum.Compute(copy), copy.All(b => b == 0) ? (ushort)0xFFFF : updated);
        }, iter: 50_000);
    }
}
