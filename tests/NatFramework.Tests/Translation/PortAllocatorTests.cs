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

    [Fact]
    public void Candidates_of_a_port_class_cover_exactly_the_class_within_the_range()
    {
        var allocator = PortAllocator.Random(2000, 2099, preservePorts: false);
        var portClass = new PortClass(2, 3); // 2000 % 3 == 2: 2000, 2003, … 2099: 34 ports
        var seen = new HashSet<ushort>();
        for (int attempt = 0; attempt < 5000; attempt++)
        {
            Assert.True(allocator.TryGetCandidate(Flow, attempt, portClass, out var port));
            Assert.InRange(port, 2000, 2099);
            Assert.Equal(2, port % 3);
            seen.Add(port);
        }
        Assert.Equal(34, seen.Count);
        Assert.Equal(34, portClass.CountIn(2000, 2099, out int first));
        Assert.Equal(2000, first);
    }

    [Fact]
    public void A_preserved_source_port_is_kept_only_when_it_is_of_the_class()
    {
        var allocator = PortAllocator.Random(1024, 65535, preservePorts: true);
        Assert.True(allocator.TryGetCandidate(Flow, 0, new PortClass(40000 % 7, 7), out var kept));
        Assert.True(allocator.TryGetCandidate(Flow, 0, new PortClass((40000 + 1) % 7, 7), out var replaced));

        Assert.Equal(40000, kept);
        Assert.Equal((40000 + 1) % 7, replaced % 7);
    }

    [Fact]
    public void A_class_with_no_port_in_the_range_has_no_candidate()
    {
        var allocator = PortAllocator.Random(3000, 3001, preservePorts: false);
        Assert.False(allocator.TryGetCandidate(Flow, 0, new PortClass(2, 5), out _)); // 3000 % 5 == 0, 3001 % 5 == 1
        Assert.Equal(0, new PortClass(2, 5).CountIn(3000, 3001, out _));
    }

    [Fact]
    public void An_allocator_without_class_support_is_drawn_again_until_it_hits_the_class()
    {
        // The interface's default: a custom allocator's own candidates, redrawn a bounded number of times.
        var counting = new CountingAllocator();
        Assert.True(((IPortAllocator)counting).TryGetCandidate(Flow, 0, new PortClass(3, 4), out var port));
        Assert.Equal(3, port % 4);
        Assert.Equal(4, counting.Calls); // 100, 101, 102, 103

        // A fixed port outside the class comes back as it is: the store refuses it, and the translator runs out.
        Assert.True(((IPortAllocator)PortAllocator.Fixed(100)).TryGetCandidate(Flow, 0, new PortClass(3, 4), out var fixedPort));
        Assert.Equal(100, fixedPort);
    }

    [Fact]
    public void Any_class_contains_every_port()
    {
        Assert.True(PortClass.Any.IsAny);
        Assert.True(PortClass.Any.Contains(0) && PortClass.Any.Contains(65535));
        Assert.False(new PortClass(1, 2).Contains(4000));
        Assert.True(new PortClass(1, 2).Contains(4001));
    }

    private sealed class CountingAllocator : IPortAllocator
    {
        public int Calls { get; private set; }

        public bool TryGetCandidate(in FlowKey outbound, int attempt, out ushort port)
        {
            port = (ushort)(100 + Calls++);
            return true;
        }
    }
}
