using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

public abstract partial class NatStoreConformanceTests
{
    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task With_port_preservation_the_source_port_is_kept_when_free_and_replaced_when_taken()
    {
        var nat = NewTranslator(o => o.PreservePorts = true);
        var first = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        var second = Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.2", 53, 64);

        var a = await nat.AddNatAsync(first, A("198.51.100.1"));
        var b = await nat.AddNatAsync(second, A("198.51.100.1"));

        Assert.Equal(40000, a.Connection.AllocatedPort);
        Assert.NotEqual(40000, b.Connection.AllocatedPort);
        Assert.InRange(b.Connection.AllocatedPort, 1024, 65535);
    }

    [Fact]
    public async Task Allocated_ports_stay_in_the_configured_range()
    {
        var nat = NewTranslator(o => { o.PreservePorts = false; o.PortRangeStart = 20000; o.PortRangeEnd = 20999; });
        var ports = new HashSet<int>();
        for (int i = 0; i < 200; i++)
        {
            var packet = Transport(NatProtocol.Tcp, "10.77.0.2", (ushort)(20000 + i), "198.51.100.2", 80, 64);
            var added = await nat.AddNatAsync(packet, A("198.51.100.1"));
            Assert.Equal(NatAddStatus.Ok, added.Status);
            Assert.InRange(added.Connection.AllocatedPort, 20000, 20999);
            ports.Add(added.Connection.AllocatedPort);
        }
        Assert.Equal(200, ports.Count);
    }

    [Fact]
    public async Task Many_hosts_with_the_same_source_port_to_one_server_get_distinct_public_ports()
    {
        var nat = NewTranslator();
        var ports = new HashSet<int>();
        for (int i = 0; i < 1000; i++)
        {
            var source = new Ipv4Address(0x0A4D0000u + (uint)i + 2);
            var added = await nat.AddNatAsync(Packets.Ipv4PacketBuilder.Tcp(source, 40000, A("198.51.100.2"), 443, []), A("198.51.100.1"));
            Assert.Equal(NatAddStatus.Ok, added.Status);
            Assert.True(ports.Add(added.Connection.AllocatedPort), $"port {added.Connection.AllocatedPort} handed out twice");
        }
    }

    [Fact]
    public async Task By_default_allocated_ports_neither_keep_nor_follow_sequential_source_ports()
    {
        var nat = NewTranslator();
        var ports = new List<int>();
        for (int i = 0; i < 50; i++)
        {
            var packet = Transport(NatProtocol.Udp, "10.77.0.2", (ushort)(3000 + i), "198.51.100.2", 53, 64);
            ports.Add((await nat.AddNatAsync(packet, A("198.51.100.1"))).Connection.AllocatedPort);
        }
        // Preserved or sequential ports let an observer of one connection predict the next one's.
        int preserved = ports.Where((p, i) => p == 3000 + i).Count();
        int sequentialSteps = ports.Zip(ports.Skip(1)).Count(p => p.Second - p.First is 1 or 0);
        Assert.True(preserved < 3, $"source ports kept: {string.Join(",", ports)}");
        Assert.True(sequentialSteps < 5, $"ports look sequential: {string.Join(",", ports)}");
    }

    [Fact]
    public async Task Concurrent_adds_of_distinct_flows_never_share_a_public_port()
    {
        var nat = NewTranslator(o => { o.PreservePorts = false; o.PortRangeStart = 30000; o.PortRangeEnd = 34999; });
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var mine = new List<NatAddResult>();
            for (int i = 0; i < 250; i++)
            {
                var packet = Transport(NatProtocol.Udp, $"10.77.{worker}.{i % 250 + 1}", (ushort)(1000 + i), "198.51.100.2", 53, 64);
                mine.Add(await nat.AddNatAsync(packet, A("198.51.100.1")));
            }
            return mine;
        })));

        var all = results.SelectMany(r => r).ToList();
        Assert.All(all, r => Assert.Equal(NatAddStatus.Ok, r.Status));
        Assert.Equal(all.Count, all.Select(r => r.Connection.AllocatedPort).Distinct().Count());
    }
}
