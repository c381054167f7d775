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
    public void Empty_or_invalid_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PortAllocator.Random(3000, 2000));
        Assert.Throws<ArgumentOutOfRangeException>(() => PortAllocator.Random(0, 2000));
    }
}
