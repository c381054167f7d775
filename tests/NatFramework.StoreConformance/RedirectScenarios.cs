using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

public abstract partial class NatStoreConformanceTests
{
    // mirage-nat test_add_redirect_valid_pkt: 1.2.3.4:80 -> 208.121.103.4:80 is sent to 172.16.2.30:18787 from 172.16.2.1:8989.
    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Redirect_rewrites_both_directions_and_refuses_an_overlapping_redirect()
    {
        var nat = NewTranslator();
        var packet = Transport(NatProtocol.Udp, "1.2.3.4", 80, "208.121.103.4", 80, 52);

        var added = await nat.AddRedirectAsync(packet, A("172.16.2.1"), A("172.16.2.30"), 18787, PortAllocator.Fixed(8989));

        Assert.Equal(NatAddStatus.Ok, added.Status);
        Assert.True(added.Connection.IsRedirect);
        await AssertTranslatesTo(nat, packet, Transport(NatProtocol.Udp, "172.16.2.1", 8989, "172.16.2.30", 18787, 51), FlowDirection.Outbound);
        var reply = Transport(NatProtocol.Udp, "172.16.2.30", 18787, "172.16.2.1", 8989, 52);
        await AssertTranslatesTo(nat, reply, Transport(NatProtocol.Udp, "208.121.103.4", 80, "1.2.3.4", 80, 51), FlowDirection.Reply);

        var again = await nat.AddRedirectAsync(packet, A("172.16.2.1"), A("172.16.2.30"), 18787, PortAllocator.Fixed(8989));
        var overlapping = await nat.AddRedirectAsync(packet, A("8.8.8.8"), A("172.16.2.30"), 18787, PortAllocator.Fixed(8989));
        var otherTarget = await nat.AddRedirectAsync(packet, A("172.16.2.1"), A("172.16.2.31"), 18787, PortAllocator.Fixed(8990));

        Assert.Equal(NatAddStatus.Ok, again.Status);
        Assert.Equal(NatAddStatus.Overlap, overlapping.Status);
        Assert.Equal(NatAddStatus.Overlap, otherTarget.Status);
    }

    // mirage-nat test_free_port, with the polarity qubes-mirage-firewall once got wrong.
    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task Port_is_free_before_a_redirect_and_taken_after_it_for_that_protocol_only()
    {
        var nat = NewTranslator();
        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Udp, A("1.2.3.4"), A("208.121.103.4"), 80, 80));
        var packet = Transport(NatProtocol.Udp, "1.2.3.4", 80, "208.121.103.4", 80, 52);

        Assert.True((await nat.AddRedirectAsync(packet, A("172.16.2.1"), A("172.16.2.30"), 18787, PortAllocator.Fixed(8989))).IsOk);

        Assert.False(await nat.IsPortFreeAsync(NatProtocol.Udp, A("1.2.3.4"), A("208.121.103.4"), 80, 80));
        Assert.False(await nat.IsPortFreeAsync(NatProtocol.Udp, A("172.16.2.30"), A("172.16.2.1"), 18787, 8989));
        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Tcp, A("1.2.3.4"), A("208.121.103.4"), 80, 80));
    }

    [Fact]
    public async Task A_redirect_to_port_0_is_refused_and_leaves_nothing_behind()
    {
        var nat = NewTranslator();
        var syn = Transport(NatProtocol.Tcp, "203.0.113.7", 40000, "198.51.100.1", 8080, 64);

        var added = await nat.AddRedirectAsync(syn, A("10.77.0.1"), A("10.77.0.2"), 0);

        Assert.Equal(NatAddStatus.CannotNat, added.Status);
        Assert.Equal(CannotNatReason.InvalidTargetPort, added.Reason);
        await AssertUntranslated(nat, syn);
        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Tcp, A("203.0.113.7"), A("198.51.100.1"), 40000, 8080));
    }

    [Fact]
    public async Task Port_forward_serves_many_outside_clients_on_one_public_port()
    {
        var nat = NewTranslator();
        for (int client = 1; client <= 20; client++)
        {
            var syn = Transport(NatProtocol.Tcp, $"203.0.113.{client}", (ushort)(30000 + client), "198.51.100.1", 8080, 64);
            Assert.True((await nat.AddRedirectAsync(syn, A("10.77.0.1"), A("10.77.0.2"), 80)).IsOk);
            var (result, bytes) = await TranslateCopy(nat, syn);
            Assert.True(result.IsTranslated);
            var key = KeyOf(bytes);
            Assert.Equal(A("10.77.0.2"), key.Destination);
            Assert.Equal(80, key.DestinationPort);

            var answer = Transport(NatProtocol.Tcp, "10.77.0.2", 80, "10.77.0.1", key.SourcePort, 64);
            await AssertTranslatesTo(nat, answer, Transport(NatProtocol.Tcp, "198.51.100.1", 8080, $"203.0.113.{client}", (ushort)(30000 + client), 63), FlowDirection.Reply);
        }
    }
}
