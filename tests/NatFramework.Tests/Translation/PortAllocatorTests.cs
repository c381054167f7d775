namespace NatFramework.Tests.Translation;

public sealed class PortAllocatorTests
{
    private static readonly FlowKey Flow = FlowKey.Udp(Ipv4Address.Parse("10.77.0.2"), 40000, Ipv4Address.Parse("198.51.100.2"), 53);

    [Fact]
    public void First_candidate_is_the_source_port_when_preserving_and_in_range()
    {
        Assert.True(PortAllocator.Random(1024, 65535, preservePorts: true).TryGetCandidate(Flow, 0, out var port));
        Assert.Equal(40000, port);
    }

    [Fact]
    public void Candidates_stay_in_range_and_spread_over_it()
    {
        var allocator = PortAllocator.Random(2000, 2099, preservePorts: false);
        var seen = new HashSet<ushort>();
        for (int attempt = 0; attempt < 5000; attempt++)
        {
            Assert.True(allocator.TryGetCandidate(Flow, attempt, out var port));
            Assert.InRange(port, 2000, 2099);
            seen.Add(port);
        }
        Assert.Equal(100, seen.Count);
    }

    [Fact]
    public void By_default_ports_are_neither_preserved_nor_related_to_the_source_port()
    {
        // Sequential inside ports (what a host's own allocator often hands out) must not show through: with port
        // preservation they came out identical and sequential (lag-1 correlation 1.0).
        var allocator = PortAllocator.FromOptions(new NatOptions());
        var ports = new double[4000];
        int preserved = 0;
        for (int i = 0; i < ports.Length; i++)
        {
            var flow = FlowKey.Udp(Ipv4Address.Parse("10.77.0.2"), (ushort)(20000 + i), Ipv4Address.Parse("198.51.100.2"), 53);
            Assert.True(allocator.TryGetCandidate(flow, 0, out var port));
            ports[i] = port;
            if (port == flow.SourcePort) preserved++;
        }

        Assert.False(new NatOptions().PreservePorts);
        Assert.True(preserved < 5, $"{preserved} of {ports.Length} ports were the source port");
        Assert.InRange(LagOneCorrelation(ports), -0.1, 0.1);
        // Spread over the range: each eighth of 1024-65535 gets its share (4000 / 8 = 500 expected).
        var eighths = ports.GroupBy(p => (int)((p - 1024) * 8 / 64512)).Select(g => g.Count()).ToList();
        Assert.Equal(8, eighths.Count);
        Assert.All(eighths, n => Assert.InRange(n, 350, 650));
    }

    private static double LagOneCorrelation(double[] values)
    {
        double mean = values.Average();
        double numerator = 0, denominator = 0;
        for (int i = 0; i < values.Length; i++)
        {
            denominator += (values[i] - mean) * (values[i] - mean);
            if (i > 0) numerator += (values[i] - mean) * (values[i - 1] - mean);
        }
        return numerator / denominator;
    }

    [Fact]
    public void Empty_or_invalid_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PortAllocator.Random(3000, 2000));
        Assert.Throws<ArgumentOutOfRangeException>(() => PortAllocator.Random(0, 2000));
    }
}
