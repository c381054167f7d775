using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// Per-host limits (RFC 6888 REQ-3/4): one inside host cannot take every port of the public address.
public abstract partial class NatStoreConformanceTests
{
    private static NatPolicy LimitedPolicy(int udpPerHost = 3, int tcpPerHost = 0) => RouterPolicy with
    {
        UdpConnectionsPerHost = udpPerHost,
        TcpConnectionsPerHost = tcpPerHost,
    };

    private static byte[] Flow(string host, int i) => Transport(NatProtocol.Udp, host, (ushort)(40000 + i), "198.51.100.2", 53, 64);

    [Fact]
    public async Task A_host_at_its_limit_gets_quota_exceeded_and_other_hosts_are_unaffected()
    {
        var nat = NewPolicyTranslator(LimitedPolicy());
        for (int i = 0; i < 3; i++) Assert.True((await Translated(nat, Flow("10.77.0.2", i))).Result.Created);

        await AssertUntranslated(nat, Flow("10.77.0.2", 3), UntranslatedReason.QuotaExceeded);
        var added = await nat.AddNatAsync(Flow("10.77.0.2", 4), A("198.51.100.1"));
        Assert.Equal(NatAddStatus.CannotNat, added.Status);
        Assert.Equal(CannotNatReason.QuotaExceeded, added.Reason);

        // Its existing flows still translate; another host and another protocol are not limited by it.
        Assert.False((await Translated(nat, Flow("10.77.0.2", 0))).Result.Created);
        Assert.True((await Translated(nat, Flow("10.77.0.3", 0))).Result.Created);
        Assert.True((await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, TcpFlags.Syn))).Result.Created);
    }

    [Fact]
    public async Task Removing_a_hosts_connections_gives_its_quota_back()
    {
        var nat = NewPolicyTranslator(LimitedPolicy());
        for (int i = 0; i < 3; i++) await Translated(nat, Flow("10.77.0.2", i));
        await AssertUntranslated(nat, Flow("10.77.0.2", 3), UntranslatedReason.QuotaExceeded);

        var freed = await nat.RemoveConnectionsAsync(A("10.77.0.2"));

        Assert.Equal(3, freed.Connections.Count);
        for (int i = 3; i < 6; i++) Assert.True((await Translated(nat, Flow("10.77.0.2", i))).Result.Created);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Expired_connections_do_not_count_against_the_quota()
    {
        var nat = NewPolicyTranslator(LimitedPolicy());
        for (int i = 0; i < 3; i++) await Translated(nat, Flow("10.77.0.2", i));

        Clock.Advance(TimeSpan.FromSeconds(301));

        for (int i = 3; i < 6; i++) Assert.True((await Translated(nat, Flow("10.77.0.2", i))).Result.Created);
    }

    [Fact]
    public async Task Connections_through_a_port_forward_neither_count_nor_are_limited()
    {
        var nat = NewPolicyTranslator(LimitedPolicy(udpPerHost: 0, tcpPerHost: 2));
        // Four outside clients reach the forwarded server 10.77.0.5, more than its TCP limit.
        for (int i = 0; i < 4; i++)
            Assert.True((await Translated(nat, Segment($"198.51.100.{10 + i}", 5000, "198.51.100.1", 8080, TcpFlags.Syn), NatSide.Outside)).Result.Created);

        // The server's own outbound connections still have its whole quota.
        Assert.True((await Translated(nat, Segment("10.77.0.5", 41000, "198.51.100.2", 443, TcpFlags.Syn))).Result.Created);
        Assert.True((await Translated(nat, Segment("10.77.0.5", 41001, "198.51.100.2", 443, TcpFlags.Syn))).Result.Created);
        await AssertUntranslated(nat, Segment("10.77.0.5", 41002, "198.51.100.2", 443, TcpFlags.Syn), UntranslatedReason.QuotaExceeded);
    }

    [Fact]
    public async Task A_negative_limit_is_refused()
    {
        var nat = NewPolicyTranslator();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => nat.Policy = RouterPolicy with { TcpConnectionsPerHost = -1 });

        Assert.Contains(nameof(NatPolicy.TcpConnectionsPerHost), error.Message);
    }
}
