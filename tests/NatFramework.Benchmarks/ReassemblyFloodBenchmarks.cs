using BenchmarkDotNet.Attributes;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatFramework.Benchmarks;

/// <summary>
/// What one fragment costs the reassembler when an attacker cuts datagrams into 8-byte fragments, against fragments of an
/// ordinary size: each invocation feeds 1,024 fragments of one datagram identifier (tiny: offsets 0, 8, 16, …, so every
/// 64 the datagram is discarded and a new one starts; ordinary: 1,480-byte fragments of 64 KiB datagrams). Reported per
/// fragment. Placement is a binary search among at most <see cref="ReassemblyOptions.MaxFragmentsPerDatagram"/> held
/// fragments, so the two rows stay within a small factor of each other whatever the flood.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class ReassemblyFloodBenchmarks
{
    private const int Fragments = 1024;
    private static readonly Ipv4Address From = Ipv4Address.Parse("198.51.100.2");
    private static readonly Ipv4Address To = Ipv4Address.Parse("198.51.100.1");
    private readonly byte[][] _tiny = new byte[Fragments][];
    private readonly byte[][] _ordinary = new byte[Fragments][];
    private readonly byte[] _destination = new byte[65535];

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < Fragments; i++)
        {
            _tiny[i] = Fragment(new byte[8], (i % 8191) * 8, more: true);
            // 44 fragments of 1,480 bytes make one 65,120-byte datagram; the last of each is the end.
            int place = i % 44;
            _ordinary[i] = Fragment(new byte[1480], place * 1480, more: place < 43);
        }
    }

    private static byte[] Fragment(byte[] data, int offset, bool more)
    {
        var fragment = Ipv4PacketBuilder.Ipv4(From, To, 17, data, identification: 0x4242);
        ushort flags = (ushort)((more ? Ipv4Packet.MoreFragmentsFlag : 0) | (offset / 8));
        fragment[Ipv4Packet.FlagsOffset] = (byte)(flags >> 8);
        fragment[Ipv4Packet.FlagsOffset + 1] = (byte)flags;
        Ipv4Packet.RecomputeHeaderChecksum(fragment.AsSpan(0, Ipv4Packet.MinHeaderLength));
        return fragment;
    }

    [Benchmark(Description = "8-byte fragments, per fragment", OperationsPerInvoke = Fragments)]
    public int Tiny() => Feed(_tiny);

    [Benchmark(Baseline = true, Description = "1,480-byte fragments, per fragment", OperationsPerInvoke = Fragments)]
    public int Ordinary() => Feed(_ordinary);

    private int Feed(byte[][] fragments)
    {
        // A fresh reassembler per invocation (a few small allocations), so every invocation sees the same sequence.
        var reassembler = new Ipv4Reassembler();
        int completed = 0;
        foreach (var fragment in fragments)
        {
            Ipv4Packet.TryParse(fragment, out var ip);
            if (reassembler.Add(ip, _destination).Status == ReassemblyStatus.Complete) completed++;
        }
        return completed;
    }
}
