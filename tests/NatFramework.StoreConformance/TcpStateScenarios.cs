using NatFramework.Packets;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

// TCP state tracking (RFC 5382 REQ-5, RFC 7857 §2.1-2.2): established connections idle out after 7440 s, transitory
// ones (handshake not complete, FIN both ways, RST) after 240 s; a bounded table gives up transitory ones first.
public abstract partial class NatStoreConformanceTests
{
    private const TcpFlags SynAck = TcpFlags.Syn | TcpFlags.Ack;
    private const TcpFlags FinAck = TcpFlags.Fin | TcpFlags.Ack;

    /// <summary>Opens 10.77.0.2:<paramref name="insidePort"/> → 198.51.100.2:80 through the policy; returns the public port.</summary>
    private async Task<ushort> OpenAsync(INatTranslator nat, ushort insidePort, bool complete = true)
    {
        var (opened, bytes) = await Translated(nat, Segment("10.77.0.2", insidePort, "198.51.100.2", 80, TcpFlags.Syn));
        Assert.True(opened.Created);
        ushort port = SourcePortOf(bytes);
        if (!complete) return port;
        await Translated(nat, Segment("198.51.100.2", 80, "198.51.100.1", port, SynAck));
        await Translated(nat, Segment("10.77.0.2", insidePort, "198.51.100.2", 80, TcpFlags.Ack));
        return port;
    }

    private static Task<bool> IsMappedAsync(INatTranslator nat, ushort port)
        => nat.IsPortFreeAsync(NatProtocol.Tcp, A("198.51.100.2"), A("198.51.100.1"), 80, port).AsTask().ContinueWith(t => !t.Result);

    private static byte[] Answer(ushort port, TcpFlags flags) => Segment("198.51.100.2", 80, "198.51.100.1", port, flags);

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Syn_without_an_answer_is_forgotten_after_the_transitory_timeout()
    {
        var nat = NewPolicyTranslator();
        ushort port = await OpenAsync(nat, 40000, complete: false);

        Clock.Advance(TimeSpan.FromSeconds(239));
        Assert.True(await IsMappedAsync(nat, port));
        Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.False(await IsMappedAsync(nat, port));
        await AssertUntranslated(nat, Answer(port, SynAck));
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Completed_handshake_gets_the_established_timeout()
    {
        var nat = NewPolicyTranslator();
        ushort port = await OpenAsync(nat, 40000);

        Clock.Advance(TimeSpan.FromSeconds(7400));

        var (result, _) = await Translated(nat, Answer(port, TcpFlags.Ack | TcpFlags.Psh));
        Assert.False(result.Created);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task Fins_in_both_directions_leave_the_connection_for_the_transitory_timeout()
    {
        var nat = NewPolicyTranslator();
        ushort port = await OpenAsync(nat, 40000);
        await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, FinAck));
        await Translated(nat, Answer(port, FinAck));
        await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, TcpFlags.Ack)); // the last ACK changes nothing

        Clock.Advance(TimeSpan.FromSeconds(239));
        Assert.True(await IsMappedAsync(nat, port));
        Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.False(await IsMappedAsync(nat, port));
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task A_fin_in_one_direction_leaves_a_half_closed_connection_established()
    {
        var nat = NewPolicyTranslator();
        ushort port = await OpenAsync(nat, 40000);
        await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, FinAck));

        Clock.Advance(TimeSpan.FromSeconds(3600));

        // The server may still send for a long time (a half-closed download).
        await Translated(nat, Answer(port, TcpFlags.Ack | TcpFlags.Psh));
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock | StoreRequirement.AnyPublicPort)]
    public async Task A_reset_does_not_free_the_mapping_before_the_transitory_timeout()
    {
        var nat = NewPolicyTranslator();
        ushort port = await OpenAsync(nat, 40000);

        // The RST itself is forwarded; the mapping stays (RFC 7857 §2.2: a forged RST must not hand it to someone else).
        await Translated(nat, Answer(port, TcpFlags.Rst));
        Clock.Advance(TimeSpan.FromSeconds(200));
        Assert.True(await IsMappedAsync(nat, port));
        var thief = Segment("10.77.0.3", 40000, "198.51.100.2", 80, TcpFlags.Syn);
        Assert.Equal(NatAddStatus.Overlap, (await nat.AddNatAsync(thief, A("198.51.100.1"), PortAllocator.Fixed(port))).Status);

        Clock.Advance(TimeSpan.FromSeconds(41));

        Assert.False(await IsMappedAsync(nat, port));
        Assert.Equal(NatAddStatus.Ok, (await nat.AddNatAsync(thief, A("198.51.100.1"), PortAllocator.Fixed(port))).Status);
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task A_new_syn_on_a_closed_connection_reopens_it_with_the_same_mapping()
    {
        var nat = NewPolicyTranslator();
        ushort port = await OpenAsync(nat, 40000);
        await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, FinAck));
        await Translated(nat, Answer(port, FinAck));
        Clock.Advance(TimeSpan.FromSeconds(100));

        var (reopened, bytes) = await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, TcpFlags.Syn));
        await Translated(nat, Answer(port, SynAck));
        await Translated(nat, Segment("10.77.0.2", 40000, "198.51.100.2", 80, TcpFlags.Ack));
        Clock.Advance(TimeSpan.FromSeconds(1000));

        Assert.False(reopened.Created);
        Assert.Equal(port, SourcePortOf(bytes));
        Assert.True(await IsMappedAsync(nat, port));
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task A_forwarded_syn_without_an_answer_is_forgotten_after_the_transitory_timeout()
    {
        var nat = NewPolicyTranslator();
        var syn = Segment("198.51.100.7", 5000, "198.51.100.1", 8080, TcpFlags.Syn);
        Assert.True((await Translated(nat, syn, NatSide.Outside)).Result.Created);

        Clock.Advance(TimeSpan.FromSeconds(241));

        Assert.True(await nat.IsPortFreeAsync(NatProtocol.Tcp, A("198.51.100.7"), A("198.51.100.1"), 5000, 8080));
    }

    [ConformanceFact(Requires = StoreRequirement.TranslatorClock)]
    public async Task The_transitory_timeout_is_configurable()
    {
        var nat = NewPolicyTranslator(configure: o => o.TcpTransitoryTimeout = TimeSpan.FromSeconds(30));
        ushort port = await OpenAsync(nat, 40000, complete: false);

        Clock.Advance(TimeSpan.FromSeconds(31));

        Assert.False(await IsMappedAsync(nat, port));
    }

    [ConformanceFact(Requires = StoreRequirement.Capacity)]
    public async Task A_full_table_gives_up_closed_connections_before_an_idle_established_one()
    {
        const int capacity = 8;
        var nat = NewPolicyTranslator(configure: o => o.TcpCapacity = capacity);
        ushort idle = await OpenAsync(nat, 30000);

        // Five times the capacity of short connections, each opened and closed by FINs both ways.
        for (int i = 0; i < 5 * capacity; i++)
        {
            var insidePort = (ushort)(40000 + i);
            ushort port = await OpenAsync(nat, insidePort);
            await Translated(nat, Segment("10.77.0.2", insidePort, "198.51.100.2", 80, FinAck));
            await Translated(nat, Answer(port, FinAck));
        }

        var (result, bytes) = await Translated(nat, Answer(idle, TcpFlags.Ack | TcpFlags.Psh));
        Assert.False(result.Created);
        Assert.Equal(Convert.ToHexString(Segment("198.51.100.2", 80, "10.77.0.2", 30000, TcpFlags.Ack | TcpFlags.Psh, 63)), Convert.ToHexString(bytes));
    }
}
