using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

public abstract partial class NatStoreConformanceTests
{
    [ConformanceTheory(Requires = StoreRequirement.TranslatorClock)]
    [InlineData(NatProtocol.Udp, 300)]
    [InlineData(NatProtocol.Tcp, 7440)]
    public async Task Idle_connection_expires_after_its_protocol_timeout_in_both_directions(NatProtocol protocol, int timeoutSeconds)
    {
        var nat = NewTranslator();
        var packet = Transport(protocol, "10.77.0.2", 40000, "198.51.100.2", 80, 64);
        var added = await nat.AddNatAsync(packet, A("198.51.100.1"));
        var reply = Transport(protocol, "198.51.100.2", 80, "198.51.100.1", added.Connection.AllocatedPort, 64);
        // TCP: the answering SYN completes the handshake, so the established timeout applies (a lone SYN is transitory).
        if (protocol == NatProtocol.Tcp)
            Assert.True((await TranslateCopy(nat, Packets.Ipv4PacketBuilder.Tcp(A("198.51.100.2"), 80, A("198.51.100.1"), added.Connection.AllocatedPort, [],
                Packets.TcpFlags.Syn | Packets.TcpFlags.Ack))).Result.IsTranslated);

        Clock.Advance(TimeSpan.FromSeconds(timeoutSeconds - 1));
        Assert.False(await nat.IsPortFreeAsync(protocol, A("198.51.100.2"), A("198.51.100.1"), 80, added.Connection.AllocatedPort));
        Clock.Advance(TimeSpan.FromSeconds(2));

        await AssertUntranslated(nat, packet);
        await AssertUntranslated(nat, reply);
        Assert.True(await nat.IsPortFreeAsync(protocol, A("198.51.100.2"), A("198.51.100.1"), 80, added.Connection.AllocatedPort));
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Icmp_query_mapping_expires_after_sixty_seconds()
    {
        var nat = NewTranslator();
        var ping = Packets.Ipv4PacketBuilder.EchoRequest(A("10.77.0.2"), A("198.51.100.2"), 7, 1);
        Assert.True((await nat.AddNatAsync(ping, A("198.51.100.1"))).IsOk);

        Clock.Advance(TimeSpan.FromSeconds(59));
        Assert.True((await TranslateCopy(nat, ping)).Result.IsTranslated);
        Clock.Advance(TimeSpan.FromSeconds(61));

        await AssertUntranslated(nat, ping);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Traffic_in_either_direction_keeps_a_connection_alive()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        var added = await nat.AddNatAsync(packet, A("198.51.100.1"));
        var reply = Transport(NatProtocol.Udp, "198.51.100.2", 53, "198.51.100.1", added.Connection.AllocatedPort, 64);

        for (int i = 0; i < 20; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(100));
            Assert.True((await TranslateCopy(nat, i % 2 == 0 ? reply : packet)).Result.IsTranslated, $"after {(i + 1) * 100} s");
        }
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock | StoreRequirement.AnyPublicPort)]
    public async Task Expired_mapping_can_be_taken_by_a_new_connection()
    {
        var nat = NewTranslator();
        var first = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(first, A("198.51.100.1"), PortAllocator.Fixed(50000))).IsOk);
        var second = Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.2", 53, 64);
        Assert.Equal(NatAddStatus.Overlap, (await nat.AddNatAsync(second, A("198.51.100.1"), PortAllocator.Fixed(50000))).Status);

        Clock.Advance(TimeSpan.FromSeconds(301));

        Assert.Equal(NatAddStatus.Ok, (await nat.AddNatAsync(second, A("198.51.100.1"), PortAllocator.Fixed(50000))).Status);
        await AssertUntranslated(nat, first);
    }

    [Fact]
    public async Task With_expiry_disabled_connections_live_until_removed()
    {
        var nat = NewTranslator(o => o.ExpiryEnabled = false);
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);

        Clock.Advance(TimeSpan.FromDays(30));

        Assert.True((await TranslateCopy(nat, packet)).Result.IsTranslated);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Custom_timeouts_apply()
    {
        var nat = NewTranslator(o => o.UdpTimeout = TimeSpan.FromSeconds(5));
        var packet = Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64);
        Assert.True((await nat.AddNatAsync(packet, A("198.51.100.1"))).IsOk);

        Clock.Advance(TimeSpan.FromSeconds(6));

        await AssertUntranslated(nat, packet);
    }
}
