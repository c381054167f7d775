using System.Buffers.Binary;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatFramework.Tests.Fragmentation;

public sealed class Ipv4FragmenterTests
{
    private static readonly Ipv4Address One = Ipv4Address.Parse("1.1.1.1");
    private static readonly Ipv4Address Two = Ipv4Address.Parse("2.2.2.2");

    /// <summary>mirage-nat's <c>gen_icmp</c>: an echo request from 1.1.1.1 to 2.2.2.2, id 5, seq 9.</summary>
    internal static byte[] Echo(int payload, bool dontFragment = false)
        => Ipv4PacketBuilder.EchoRequest(One, Two, 5, 9, new byte[payload], dontFragment: dontFragment);

    private static (FragmentationResult Result, byte[][] Fragments) Fragment(byte[] datagram, int mtu)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(datagram, out var ip));
        var output = new byte[datagram.Length * 2 + 1024];
        var ranges = new Range[64];
        var result = Ipv4Fragmenter.Fragment(ip, mtu, output, ranges);
        return (result, ranges.Take(result.FragmentCount).Select(r => output[r]).ToArray());
    }

    private static ushort FlagsAndOffset(byte[] fragment) => BinaryPrimitives.ReadUInt16BigEndian(fragment.AsSpan(6));

    [Fact]
    public void Echo_with_1472_bytes_fits_1500_as_one_packet()
    {
        var datagram = Echo(1472);

        var (result, _) = Fragment(datagram, 1500);

        Assert.Equal(FragmentationStatus.Fits, result.Status);
        Assert.Equal(1500, datagram.Length);
        Assert.Equal(0x0000, FlagsAndOffset(datagram));
    }

    [Fact]
    public void Echo_with_1500_bytes_becomes_1500_and_48_bytes()
    {
        var (result, fragments) = Fragment(Echo(1500), 1500);

        Assert.Equal(FragmentationStatus.Fragmented, result.Status);
        Assert.Equal([1500, 48], fragments.Select(f => f.Length));
        Assert.Equal([0x2000, 0x00B9], fragments.Select(FlagsAndOffset));
    }

    [Fact]
    public void Echo_with_4432_bytes_becomes_three_full_packets()
    {
        var (_, fragments) = Fragment(Echo(4432), 1500);

        Assert.Equal([1500, 1500, 1500], fragments.Select(f => f.Length));
        Assert.Equal([0x2000, 0x20B9, 0x0172], fragments.Select(FlagsAndOffset));
    }

    [Fact]
    public void Dont_fragment_and_too_big_gives_the_mtu_for_icmp_fragmentation_needed()
    {
        var (result, fragments) = Fragment(Echo(1473, dontFragment: true), 1500);

        Assert.Equal(FragmentationStatus.DontFragmentTooBig, result.Status);
        Assert.Equal(1500, result.Mtu);
        Assert.Empty(fragments);
    }

    [Fact]
    public void Every_fragment_is_a_valid_datagram_with_8_byte_aligned_offsets()
    {
        var (_, fragments) = Fragment(Echo(4000), 576);

        foreach (var fragment in fragments)
        {
            Assert.Equal(PacketError.None, Ipv4Packet.TryParse(fragment, out var ip));
            Assert.True(ip.TotalLength <= 576);
            Assert.Equal(0, ip.FragmentOffset % 8);
        }
        Assert.False(Parse(fragments[^1]).MoreFragments);
    }

    private static (bool MoreFragments, int Offset) Parse(byte[] fragment)
    {
        Ipv4Packet.TryParse(fragment, out var ip);
        return (ip.MoreFragments, ip.FragmentOffset);
    }

    [Fact]
    public void Only_copied_options_are_repeated_after_the_first_fragment()
    {
        // Router alert (0x94, copied) and a timestamp option (0x44, not copied), padded to 12 bytes.
        byte[] options = [0x94, 0x04, 0x00, 0x00, 0x44, 0x08, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00];
        var datagram = Ipv4PacketBuilder.Ipv4(One, Two, 253, new byte[3000], identification: 99, options: options); // 253: experimental, any payload

        var (_, fragments) = Fragment(datagram, 1500);

        Ipv4Packet.TryParse(fragments[0], out var first);
        Assert.Equal(options, first.Options.ToArray());
        foreach (var later in fragments.Skip(1))
        {
            Ipv4Packet.TryParse(later, out var ip);
            Assert.Equal([0x94, 0x04, 0x00, 0x00], ip.Options.ToArray());
        }
    }

    [Fact]
    public void A_fragment_can_be_fragmented_again()
    {
        var (_, coarse) = Fragment(Echo(3000), 1500);
        var (_, fine) = Fragment(coarse[0], 576);

        Assert.All(fine, f => Assert.True(Parse(f).MoreFragments));
        Assert.Equal([0, 552, 1104], fine.Select(f => Parse(f).Offset));
    }

    [Fact]
    public void Too_small_output_is_reported_not_thrown()
    {
        Ipv4Packet.TryParse(Echo(3000), out var ip);

        var result = Ipv4Fragmenter.Fragment(ip, 1500, new byte[100], new Range[8]);

        Assert.Equal(FragmentationStatus.OutputTooSmall, result.Status);
    }

    [Fact]
    public void Empty_payload_and_minimum_mtu_work()
    {
        var empty = Ipv4PacketBuilder.Ipv4(One, Two, 253, []); // RFC 3692 experimental protocol: an empty payload is valid
        Assert.Equal(FragmentationStatus.Fits, Fragment(empty, 68).Result.Status);

        var (result, fragments) = Fragment(Echo(100), 68);

        Assert.Equal(FragmentationStatus.Fragmented, result.Status);
        Assert.All(fragments, f => Assert.True(f.Length <= 68));
        Assert.Throws<ArgumentOutOfRangeException>(() => Fragment(Echo(100), 67));
    }
}
