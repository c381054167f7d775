using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

public abstract partial class NatStoreConformanceTests
{
    [Fact]
    public async Task Removing_a_host_removes_both_directions_and_reports_freed_ports_per_protocol()
    {
        var nat = NewTranslator();
        var tcp = Transport(NatProtocol.Tcp, "10.77.0.2", 40000, "198.51.100.2", 80, 64);
        var udp = Transport(NatProtocol.Udp, "10.77.0.2", 40001, "198.51.100.2", 53, 64);
        var ping = Packets.Ipv4PacketBuilder.EchoRequest(A("10.77.0.2"), A("198.51.100.2"), 9, 1);
        var other = Transport(NatProtocol.Tcp, "10.77.0.3", 40000, "198.51.100.2", 80, 64);
        var tcpAdded = await nat.AddNatAsync(tcp, A("198.51.100.1"));
        var udpAdded = await nat.AddNatAsync(udp, A("198.51.100.1"));
        var pingAdded = await nat.AddNatAsync(ping, A("198.51.100.1"));
        Assert.True((await nat.AddNatAsync(other, A("198.51.100.1"))).IsOk);

        var freed = await nat.RemoveConnectionsAsync(A("10.77.0.2"));

        Assert.Equal([tcpAdded.Connection.AllocatedPort], freed.Tcp);
        Assert.Equal([udpAdded.Connection.AllocatedPort], freed.Udp);
        Assert.Equal([pingAdded.Connection.AllocatedPort], freed.Icmp);
        await AssertUntranslated(nat, tcp);
        await AssertUntranslated(nat, Transport(NatProtocol.Tcp, "198.51.100.2", 80, "198.51.100.1", tcpAdded.Connection.AllocatedPort, 64));
        Assert.True((await TranslateCopy(nat, other)).Result.IsTranslated);
    }

    [Fact]
    public async Task Removing_the_inside_target_of_a_port_forward_removes_it()
    {
        var nat = NewTranslator();
        var request = Transport(NatProtocol.Tcp, "203.0.113.9", 5555, "198.51.100.1", 8080, 64);
        Assert.True((await nat.AddRedirectAsync(request, A("10.77.0.1"), A("10.77.0.2"), 80)).IsOk);

        var freed = await nat.RemoveConnectionsAsync(A("10.77.0.2"));

        Assert.Single(freed.Connections);
        await AssertUntranslated(nat, request);
    }

    // mirage-nat "many entries are added" (200) and "added and remove_connection called" (500), with every host removed.
    [Theory]
    [InlineData(200)]
    [InlineData(500)]
    public async Task Random_connections_are_all_gone_after_removing_each_host(int count)
    {
        var nat = NewTranslator();
        var random = new Random(count);
        var hosts = Enumerable.Range(0, 17).Select(i => new Ipv4Address(0x0A4D0000u + (uint)i + 2)).ToArray(); // 10.77.0.2…
        var outside = Enumerable.Range(0, 23).Select(i => new Ipv4Address(0xCB007100u + (uint)i + 1)).ToArray(); // 203.0.113.1…
        var packets = new List<(byte[] Packet, NatConnection Connection)>();
        while (packets.Count < count)
        {
            bool redirect = random.Next(10) == 0;
            var protocol = random.Next(2) == 0 ? NatProtocol.Tcp : NatProtocol.Udp;
            var inside = hosts[random.Next(hosts.Length)];
            var far = outside[random.Next(outside.Length)];
            var packet = redirect
                ? Transport(protocol, far.ToString(), (ushort)random.Next(1, 65536), "198.51.100.1", (ushort)random.Next(1, 65536), 64)
                : Transport(protocol, inside.ToString(), (ushort)random.Next(1, 65536), far.ToString(), (ushort)random.Next(1, 65536), 64);
            if ((await TranslateCopy(nat, packet)).Result.IsTranslated) continue; // already mapped by chance
            var added = redirect
                ? await nat.AddRedirectAsync(packet, A("10.77.0.1"), inside, (ushort)random.Next(1, 65536))
                : await nat.AddNatAsync(packet, A("198.51.100.1"));
            if (added.Status == NatAddStatus.Overlap) continue;
            Assert.Equal(NatAddStatus.Ok, added.Status);
            packets.Add((packet, added.Connection));
        }

        // Removing far ends removes nothing: a connection belongs to its inside host.
        foreach (var host in outside)
            Assert.Empty((await nat.RemoveConnectionsAsync(host)).Connections);
        int freed = 0;
        foreach (var host in hosts)
            freed += (await nat.RemoveConnectionsAsync(host)).Connections.Count;

        Assert.Equal(count, freed);
        foreach (var (packet, connection) in packets)
        {
            await AssertUntranslated(nat, packet);
            Assert.True(await nat.IsPortFreeAsync(connection.Protocol, connection.ReplyKey.Source, connection.ReplyKey.Destination,
                connection.ReplyKey.SourcePort, connection.ReplyKey.DestinationPort));
        }
    }

    [Fact]
    public async Task Removing_connections_from_a_large_table_needs_no_deep_stack()
    {
        int total = Traits.LargeTableConnections;
        var nat = NewTranslator(o => o.UdpCapacity = total + 1024);
        int added = 0;
        for (int i = 0; added < total; i++)
        {
            // Many inside hosts and ports, so the public port space (per destination) is never exhausted.
            var source = new Ipv4Address(0x0A000000u + (uint)(i / 60000) + 2);
            var packet = Packets.Ipv4PacketBuilder.Udp(source, (ushort)(1024 + i % 60000), A("198.51.100.2"), (ushort)(1 + i / 3_000_000), []);
            var result = await nat.AddNatAsync(packet, new Ipv4Address(0xC6336400u + (uint)(i % 250) + 1));
            Assert.Equal(NatAddStatus.Ok, result.Status);
            added++;
        }

        // A thread with a 256 KiB stack: a recursive removal over the table would overflow it.
        int removed = 0;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                for (uint host = 0; host <= (uint)(total / 60000); host++)
                    removed += nat.RemoveConnectionsAsync(new Ipv4Address(0x0A000002u + host)).AsTask().GetAwaiter().GetResult().Connections.Count;
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(failure);
        Assert.Equal(total, removed);
    }
}
