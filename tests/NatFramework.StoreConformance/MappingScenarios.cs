using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Endpoint-independent mapping (RFC 4787 REQ-1, RFC 5382 REQ-1, RFC 5508 REQ-1): one public endpoint per inside endpoint,
// whatever the destination, while any of its connections lives.
public abstract partial class NatStoreConformanceTests
{
    /// <summary>The public source port (ICMP: identifier) a translated outbound packet left with.</summary>
    private static ushort PublicPortOf(byte[] translated, NatProtocol protocol)
        => protocol == NatProtocol.Icmp ? (ushort)(translated[24] << 8 | translated[25]) : SourcePortOf(translated);

    private static byte[] From(NatProtocol protocol, string source, ushort port, string destination, ushort destinationPort) => protocol switch
    {
        NatProtocol.Icmp => Ipv4PacketBuilder.EchoRequest(A(source), A(destination), port, 1),
        NatProtocol.Tcp => Segment(source, port, destination, destinationPort, TcpFlags.Syn),
        _ => Transport(NatProtocol.Udp, source, port, destination, destinationPort, 64),
    };

    [Theory]
    [InlineData(NatProtocol.Udp)]
    [InlineData(NatProtocol.Tcp)]
    [InlineData(NatProtocol.Icmp)]
    public async Task One_inside_endpoint_reaches_every_destination_through_one_public_endpoint(NatProtocol protocol)
    {
        var nat = NewPolicyTranslator();

        var (first, toFirst) = await Translated(nat, From(protocol, "10.77.0.2", 40000, "198.51.100.2", 53));
        var (second, toSecond) = await Translated(nat, From(protocol, "10.77.0.2", 40000, "198.51.100.3", 5353));
        var (third, toThird) = await Translated(nat, From(protocol, "10.77.0.2", 40000, "198.51.100.4", 5354));

        Assert.True(first.Created && second.Created && third.Created);
        Assert.Equal(PublicPortOf(toFirst, protocol), PublicPortOf(toSecond, protocol));
        Assert.Equal(PublicPortOf(toFirst, protocol), PublicPortOf(toThird, protocol));
        // Another endpoint of the same host gets a mapping of its own.
        var (_, other) = await Translated(nat, From(protocol, "10.77.0.2", 40001, "198.51.100.2", 53));
        Assert.NotEqual(PublicPortOf(toFirst, protocol), PublicPortOf(other, protocol));
    }

    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task The_mapping_holds_when_another_inside_host_took_the_same_source_port_first()
    {
        // Port preservation makes the collision certain: 10.77.0.3 gets public port 40000, so 10.77.0.2:40000 cannot.
        var nat = NewPolicyTranslator(configure: o => o.PreservePorts = true);
        var (_, taken) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.2", 3478, 64));
        Assert.Equal(40000, SourcePortOf(taken));

        var (_, toFirst) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 3478, 64));
        var (_, toSecond) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.4", 3479, 64));
        var (_, theirSecond) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.4", 3479, 64));

        Assert.NotEqual(40000, SourcePortOf(toFirst));
        Assert.Equal(SourcePortOf(toFirst), SourcePortOf(toSecond));
        Assert.Equal(40000, SourcePortOf(theirSecond));
    }

    [Fact]
    public async Task Concurrent_first_packets_of_one_endpoint_to_two_destinations_get_one_public_endpoint()
    {
        var nat = NewPolicyTranslator();
        for (int round = 0; round < 100; round++)
        {
            var packets = new[]
            {
                Transport(NatProtocol.Udp, "10.77.0.2", (ushort)(20000 + round), "198.51.100.2", 3478, 64),
                Transport(NatProtocol.Udp, "10.77.0.2", (ushort)(20000 + round), "198.51.100.3", 3478, 64),
            };
            using var start = new Barrier(2);
            await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Task.Run(async () =>
            {
                start.SignalAndWait();
                Assert.True((await nat.TranslateAsync(packets[i])).IsTranslated);
            })));

            Assert.Equal(SourcePortOf(packets[0]), SourcePortOf(packets[1]));
        }
    }

    [ConformanceFact(Requires = StoreRequirement.AnyPublicPort)]
    public async Task AddNat_with_the_translators_ports_joins_the_mapping_and_with_the_callers_own_ports_does_not()
    {
        var nat = NewPolicyTranslator();
        var first = await nat.AddNatAsync(Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64), A("198.51.100.1"));
        var second = await nat.AddNatAsync(Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.3", 53, 64), A("198.51.100.1"));
        var own = await nat.AddNatAsync(Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.4", 53, 64), A("198.51.100.1"), PortAllocator.Fixed(50000));

        Assert.True(first.IsOk && second.IsOk && own.IsOk);
        Assert.Equal(first.Connection.AllocatedPort, second.Connection.AllocatedPort);
        Assert.Equal(50000, own.Connection.AllocatedPort);
        Assert.True((first.Connection.Flags & NatConnectionFlags.EndpointMapped) != 0);
        Assert.True((own.Connection.Flags & NatConnectionFlags.EndpointMapped) == 0);
    }

    [Fact]
    public async Task Without_a_policy_AddNat_keeps_mirage_nats_address_and_port_dependent_mapping()
    {
        var nat = NewTranslator();

        var added = await nat.AddNatAsync(Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 53, 64), A("198.51.100.1"));

        Assert.True(added.IsOk);
        Assert.Equal(NatConnectionFlags.None, added.Connection.Flags);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task The_mapping_ends_with_its_last_connection()
    {
        var nat = NewPolicyTranslator(configure: o => o.PreservePorts = true);
        var (_, mine) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.2", 3478, 64));
        Clock.Advance(TimeSpan.FromSeconds(200));
        await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.2", 40000, "198.51.100.3", 3478, 64));
        Assert.Equal(40000, SourcePortOf(mine));

        // The first connection expires, the second still holds the mapping: another host cannot have its port.
        Clock.Advance(TimeSpan.FromSeconds(150));
        var (_, theirs) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.3", 40000, "198.51.100.4", 3478, 64));
        Assert.NotEqual(40000, SourcePortOf(theirs));

        // Once the second expires too, the port is free for another inside endpoint.
        Clock.Advance(TimeSpan.FromSeconds(200));
        var (_, later) = await Translated(nat, Transport(NatProtocol.Udp, "10.77.0.4", 40000, "198.51.100.5", 3478, 64));
        Assert.Equal(40000, SourcePortOf(later));
    }

    [Fact]
    public async Task Filtering_other_than_address_and_port_dependent_needs_endpoint_independent_mapping()
    {
        var nat = NewPolicyTranslator();

        var error = Assert.Throws<ArgumentException>(() => nat.Policy = RouterPolicy with
        {
            UdpMapping = NatMappingBehavior.AddressAndPortDependent,
            UdpFiltering = NatFilteringBehavior.EndpointIndependent,
        });

        Assert.Contains("UdpMapping", error.Message);
    }
}
