using BenchmarkDotNet.Attributes;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatFramework.Benchmarks;

/// <summary>The packet engine alone: parse and validate, rewrite with checksum updates, ICMP error rewrite, fragment and reassemble.</summary>
[Config(typeof(BenchmarkConfig))]
public class PacketBenchmarks
{
    private static readonly Ipv4Address Inside = Ipv4Address.Parse("10.77.0.2");
    private static readonly Ipv4Address Outside = Ipv4Address.Parse("198.51.100.2");
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    private byte[] _udp = [];
    private byte[] _icmpError = [];
    private byte[] _datagram = [];
    private byte[] _fragments = [];
    private Range[] _ranges = [];
    private byte[] _reassembled = [];
    private Ipv4Reassembler _reassembler = new();
    private FlowKey _there, _back, _errorThere, _errorBack;
    private bool _flip;

    [GlobalSetup]
    public void Setup()
    {
        _udp = Ipv4PacketBuilder.Udp(Inside, 40000, Outside, 53, new byte[36], ttl: 255);
        _there = FlowKey.Udp(Public, 50000, Outside, 53);
        _back = FlowKey.Udp(Inside, 40000, Outside, 53);
        var quoted = Ipv4PacketBuilder.Udp(Public, 50000, Outside, 53, new byte[36]);
        _icmpError = Ipv4PacketBuilder.IcmpError(IcmpType.DestinationUnreachable, 3, Outside, Public, quoted, ttl: 255);
        _errorThere = FlowKey.Udp(Inside, 40000, Outside, 53);
        _errorBack = FlowKey.Udp(Public, 50000, Outside, 53);
        _datagram = Ipv4PacketBuilder.EchoRequest(Outside, Inside, 1, 1, new byte[4096]);
        _fragments = new byte[8192];
        _ranges = new Range[8];
        _reassembled = new byte[65535];
        _reassembler = new Ipv4Reassembler();
    }

    [Benchmark(Description = "parse + validate (UDP, 64 B)")]
    public PacketError ParseAndValidate() => Ipv4Packet.TryParse(_udp, out _);

    /// <summary>Rewrites back and forth between two flows so every call does the same work; TTL is restored each time.</summary>
    [Benchmark(Description = "rewrite address + port, incremental checksums")]
    public void Rewrite()
    {
        Ipv4Packet.TryParse(_udp, out var ip);
        _flip = !_flip;
        FlowRewriter.Rewrite(ip, _flip ? _there : _back, decrementTtl: false);
    }

    [Benchmark(Description = "ICMP error rewrite (embedded UDP)")]
    public void IcmpErrorRewrite()
    {
        Ipv4Packet.TryParse(_icmpError, out var ip);
        _flip = !_flip;
        var embedded = _flip ? _errorThere : _errorBack;
        FlowRewriter.RewriteIcmpError(ip, embedded, Outside, embedded.Source, decrementTtl: false);
    }

    [Benchmark(Description = "fragment 4 KB at MTU 1500 + reassemble")]
    public int FragmentAndReassemble()
    {
        Ipv4Packet.TryParse(_datagram, out var ip);
        var result = Ipv4Fragmenter.Fragment(ip, 1500, _fragments, _ranges);
        int length = 0;
        for (int i = 0; i < result.FragmentCount; i++)
        {
            Ipv4Packet.TryParse(_fragments.AsSpan(_ranges[i]), out var fragment);
            var added = _reassembler.Add(fragment, _reassembled);
            if (added.Status == ReassemblyStatus.Complete) length = added.Length;
        }
        return length;
    }
}
