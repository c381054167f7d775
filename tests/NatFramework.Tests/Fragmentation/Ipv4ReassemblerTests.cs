using CsCheck;
using Microsoft.Extensions.Time.Testing;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatFramework.Tests.Fragmentation;

public sealed class Ipv4ReassemblerTests
{
    private static readonly Ipv4Address One = Ipv4Address.Parse("198.51.100.2");
    private static readonly Ipv4Address Two = Ipv4Address.Parse("10.77.0.2");

    private static byte[][] Fragments(byte[] datagram, int mtu)
    {
        Ipv4Packet.TryParse(datagram, out var ip);
        var output = new byte[datagram.Length * 2 + 2048];
        var ranges = new Range[200];
        var result = Ipv4Fragmenter.Fragment(ip, mtu, output, ranges);
        Assert.Equal(FragmentationStatus.Fragmented, result.Status);
        return ranges.Take(result.FragmentCount).Select(r => output[r]).ToArray();
    }

    private static ReassemblyResult Add(Ipv4Reassembler reassembler, byte[] fragment, byte[] destination)
    {
        Assert.Equal(PacketError.None, Ipv4Packet.TryParse(fragment, out var ip));
        return reassembler.Add(ip, destination);
    }

    private static byte[] Datagram(int payload, ushort id = 0x4242)
    {
        var data = Enumerable.Range(0, payload).Select(i => (byte)(i * 7)).ToArray();
        return Ipv4PacketBuilder.IcmpQuery(IcmpType.EchoRequest, One, Two, 1, 1, data, identification: id);
    }

    [Fact]
    public void Fragment_then_reassemble_in_any_order_returns_the_original_datagram()
    {
        Gen.Select(Gen.Int[0, 8000], Gen.Int[68, 1500], Gen.Int).Sample((payload, mtu, seed) =>
        {
            var datagram = Datagram(payload);
            if (datagram.Length <= mtu) return;
            var fragments = Fragments(datagram, mtu);
            new Random(seed).Shuffle(fragments);
            // Cuts finer than the default bound are allowed here: this checks placement, not the bound.
            var reassembler = new Ipv4Reassembler(new ReassemblyOptions { MaxFragmentsPerDatagram = 200 });
            var destination = new byte[65535];
            ReassemblyResult last = default;
            foreach (var fragment in fragments) last = Add(reassembler, fragment, destination);
            Assert.Equal(ReassemblyStatus.Complete, last.Status);
            Assert.Equal(Convert.ToHexString(datagram), Convert.ToHexString(destination.AsSpan(0, last.Length)));
            Assert.Equal(0, reassembler.PendingDatagrams);
            Assert.Equal(0, reassembler.PendingBytes);
        }, iter: 2_000);
    }

    [Fact]
    public void Whole_datagram_is_not_a_fragment()
    {
        var reassembler = new Ipv4Reassembler();

        Assert.Equal(ReassemblyStatus.NotFragment, Add(reassembler, Datagram(10), new byte[65535]).Status);
    }

    [Fact]
    public void Overlapping_fragments_discard_the_whole_datagram_but_exact_duplicates_are_ignored()
    {
        var datagram = Datagram(3000);
        var coarse = Fragments(datagram, 1500);
        var fine = Fragments(datagram, 576);
        var reassembler = new Ipv4Reassembler();
        var destination = new byte[65535];

        Assert.Equal(ReassemblyStatus.Incomplete, Add(reassembler, coarse[0], destination).Status);
        Assert.Equal(ReassemblyStatus.Incomplete, Add(reassembler, coarse[0], destination).Status); // duplicate
        var overlap = Add(reassembler, fine[1], destination); // bytes 552.. lie inside coarse[0]

        Assert.Equal(ReassemblyStatus.Dropped, overlap.Status);
        Assert.Equal(PacketError.OverlappingFragment, overlap.Error);
        Assert.Equal(0, reassembler.PendingDatagrams);
        // The rest of the datagram no longer completes it.
        foreach (var fragment in coarse.Skip(1)) Assert.NotEqual(ReassemblyStatus.Complete, Add(reassembler, fragment, destination).Status);
    }

    [Fact]
    public void A_fragment_repeated_with_other_bytes_discards_the_datagram_and_one_repeated_with_the_same_bytes_does_not()
    {
        var datagram = Datagram(3000);
        var fragments = Fragments(datagram, 1500);
        var forged = (byte[])fragments[1].Clone();
        forged[^1] ^= 0xFF; // same offset and length, one payload byte different
        var reassembler = new Ipv4Reassembler();
        var destination = new byte[65535];

        Assert.Equal(ReassemblyStatus.Incomplete, Add(reassembler, fragments[1], destination).Status);
        Assert.Equal(ReassemblyStatus.Incomplete, Add(reassembler, (byte[])fragments[1].Clone(), destination).Status); // same bytes: ignored
        var result = Add(reassembler, forged, destination);

        Assert.Equal(ReassemblyStatus.Dropped, result.Status);
        Assert.Equal(PacketError.OverlappingFragment, result.Error);
        Assert.Equal(0, reassembler.PendingDatagrams);
        Assert.Equal(1, reassembler.Statistics.Overlapping);
    }

    [Fact]
    public void A_datagram_in_more_fragments_than_allowed_is_discarded_and_counted()
    {
        // 8-byte fragments: a 64 KiB datagram would be 8,192 of them, each one placed among all earlier ones.
        var reassembler = new Ipv4Reassembler(new ReassemblyOptions { MaxFragmentsPerDatagram = 64 });
        var destination = new byte[65535];
        ReassemblyResult result = default;
        for (int i = 0; i < 65; i++) result = Add(reassembler, TinyFragment(offset: i * 8, more: true, id: 7), destination);

        Assert.Equal(ReassemblyStatus.Dropped, result.Status);
        Assert.Equal(PacketError.TooManyFragments, result.Error);
        Assert.Equal(0, reassembler.PendingDatagrams);
        Assert.Equal(1, reassembler.Statistics.TooManyFragments);
        // A datagram in exactly the allowed number of fragments still completes, whatever their order.
        var order = Enumerable.Range(0, 64).Reverse().ToList();
        foreach (int i in order) result = Add(reassembler, TinyFragment(offset: i * 8, more: i < 63, id: 8), destination);
        Assert.Equal(ReassemblyStatus.Complete, result.Status);
        Assert.Equal(20 + 64 * 8, result.Length);
    }

    [Fact]
    public void A_source_at_its_bound_loses_its_own_oldest_datagram_not_another_sources()
    {
        var reassembler = new Ipv4Reassembler(new ReassemblyOptions { MaxDatagramsPerSource = 4, MaxDatagrams = 64 });
        var destination = new byte[65535];
        var other = Fragments(Ipv4PacketBuilder.IcmpQuery(IcmpType.EchoRequest, Two, One, 1, 1, new byte[3000], identification: 99), 1500);
        Add(reassembler, other[0], destination);
        for (ushort id = 0; id < 10; id++) Add(reassembler, TinyFragment(offset: 0, more: true, id: id), destination);

        Assert.Equal(5, reassembler.PendingDatagrams); // 4 of the flooding source, 1 of the other
        Assert.Equal(6, reassembler.Statistics.Evicted);
        ReassemblyResult last = default;
        foreach (var fragment in other.Skip(1)) last = Add(reassembler, fragment, destination);
        Assert.Equal(ReassemblyStatus.Complete, last.Status);
    }

    /// <summary>A fragment from <see cref="One"/> with 8 bytes of data at <paramref name="offset"/>.</summary>
    private static byte[] TinyFragment(int offset, bool more, ushort id)
    {
        var fragment = Ipv4PacketBuilder.Ipv4(One, Two, 17, new byte[8], identification: id);
        ushort flags = (ushort)((more ? Ipv4Packet.MoreFragmentsFlag : 0) | (offset / 8));
        fragment[6] = (byte)(flags >> 8);
        fragment[7] = (byte)flags;
        Ipv4Packet.RecomputeHeaderChecksum(fragment.AsSpan(0, 20));
        return fragment;
    }

    [Fact]
    public void Incomplete_datagram_times_out()
    {
        var clock = new FakeTimeProvider();
        var reassembler = new Ipv4Reassembler(new ReassemblyOptions { Timeout = TimeSpan.FromSeconds(30) }, clock);
        var fragments = Fragments(Datagram(3000), 1500);
        var destination = new byte[65535];
        Add(reassembler, fragments[0], destination);

        clock.Advance(TimeSpan.FromSeconds(31));
        reassembler.Purge();

        Assert.Equal(0, reassembler.PendingDatagrams);
        Assert.Equal(1, reassembler.Statistics.TimedOut);
        Assert.NotEqual(ReassemblyStatus.Complete, Add(reassembler, fragments[1], destination).Status);
    }

    [Fact]
    public void Endless_incomplete_fragments_stay_within_the_memory_and_datagram_bounds()
    {
        var options = new ReassemblyOptions { MaxBytes = 256 * 1024, MaxDatagrams = 32 };
        var reassembler = new Ipv4Reassembler(options);
        var destination = new byte[65535];
        for (int id = 0; id < 20_000; id++)
        {
            // Only the first fragment of each datagram, at a large offset so each one wants a big buffer.
            var fragment = Fragments(Datagram(20_000, (ushort)id), 1500)[id % 10 + 1];
            Add(reassembler, fragment, destination);
            Assert.True(reassembler.PendingBytes <= options.MaxBytes);
            Assert.True(reassembler.PendingDatagrams <= options.MaxDatagrams);
        }
        Assert.True(reassembler.Statistics.Evicted > 0);
    }

    [Fact]
    public void Fragments_beyond_65535_bytes_are_dropped()
    {
        var reassembler = new Ipv4Reassembler();
        var fragment = Ipv4PacketBuilder.Ipv4(One, Two, 17, new byte[1000], identification: 1);
        fragment[6] = 0x3F; // MF + offset 0x1FFx: 65528 + 1000 > 65535
        fragment[7] = 0xFF;
        Ipv4Packet.RecomputeHeaderChecksum(fragment.AsSpan(0, 20));

        var result = Add(reassembler, fragment, new byte[65535]);

        Assert.Equal(ReassemblyStatus.Dropped, result.Status);
        Assert.Equal(PacketError.ReassembledTooLarge, result.Error);
    }

    [Fact]
    public void Options_are_validated_with_a_message_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Ipv4Reassembler(new ReassemblyOptions { MaxDatagrams = 0 }));
        Assert.Contains("MaxDatagrams", error.Message);
    }
}
