using System.Buffers.Binary;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework.Translation;

/// <summary>What <see cref="PacketPlanner.Plan"/> found a packet to be.</summary>
public enum PacketPlanKind : byte
{
    /// <summary>Decided without the store; the result is in <see cref="PacketPlan.Result"/>.</summary>
    Done,
    /// <summary>A TCP, UDP or ICMP query datagram; look up its own key.</summary>
    Flow,
    /// <summary>An ICMP error; look up the reverse of the embedded datagram's key.</summary>
    IcmpError,
}

/// <summary>A parsed packet waiting for its store lookup. Plain data, so it can cross an <c>await</c>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct PacketPlan
{
    internal PacketPlan(PacketPlanKind kind, in FlowKey lookupKey, int headerLength, int totalLength, NatTranslateResult result, byte tcpFlags = 0)
    {
        Kind = kind;
        LookupKey = lookupKey;
        HeaderLength = headerLength;
        TotalLength = totalLength;
        Result = result;
        TcpFlags = tcpFlags;
    }

    /// <summary>What the packet is.</summary>
    public PacketPlanKind Kind { get; }

    /// <summary>The key to look up.</summary>
    public FlowKey LookupKey { get; }

    /// <summary>The IPv4 header length.</summary>
    public int HeaderLength { get; }

    /// <summary>The datagram length.</summary>
    public int TotalLength { get; }

    /// <summary>The result when <see cref="Kind"/> is <see cref="PacketPlanKind.Done"/>.</summary>
    public NatTranslateResult Result { get; }

    /// <summary>The TCP flags of a TCP datagram (0 otherwise).</summary>
    public byte TcpFlags { get; }

    /// <summary>True when no lookup is needed.</summary>
    public bool IsDone => Kind == PacketPlanKind.Done;

    /// <summary>True for a TCP datagram (not an ICMP error about one).</summary>
    public bool IsTcp => Kind == PacketPlanKind.Flow && LookupKey.Protocol == NatProtocol.Tcp;

    /// <summary>True when the packet may open a connection: a flow (not an ICMP error) that is not a TCP RST.</summary>
    public bool MayCreate => Kind == PacketPlanKind.Flow && !(IsTcp && (TcpFlags & TcpStateTracker.Rst) != 0);

    /// <summary>True when translating the packet refreshes its session: a packet of the flow does, an ICMP error about it does not (RFC 5508 REQ-6).</summary>
    public bool RefreshesSession => Kind == PacketPlanKind.Flow;
}

/// <summary>Parses and classifies packets for translation, and rewrites them once their connection is known.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class PacketPlanner
{
    /// <summary>Parses and classifies a packet for translation. Never throws on packet bytes.</summary>
    /// <param name="packet">The datagram.</param>
    /// <returns>What it is and the key to look up, or the result when none is needed.</returns>
    public static PacketPlan Plan(Span<byte> packet)
    {
        // The common case inline; everything else, options and TTL 1 included, goes out of line.
        return CommonFlow.TryRead(packet, out var key) ? PlanCommon(packet, key) : PlanOther(packet);
    }

    /// <summary>The plan of a packet <see cref="CommonFlow.TryRead"/> accepted as <paramref name="key"/>, without reading it again.</summary>
    internal static PacketPlan PlanCommon(Span<byte> packet, in FlowKey key)
    {
        ref byte ip = ref MemoryMarshal.GetReference(packet);
        byte tcpFlags = key.Protocol == NatProtocol.Tcp ? Unsafe.Add(ref ip, Ipv4Packet.MinHeaderLength + TcpHeader.FlagsOffset) : (byte)0;
        return new PacketPlan(PacketPlanKind.Flow, key, Ipv4Packet.MinHeaderLength, CommonFlow.BigEndian16(ref ip, Ipv4Packet.TotalLengthOffset), default, tcpFlags);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PacketPlan PlanOther(Span<byte> packet)
    {
        var error = Ipv4Packet.TryParse(packet, out var ip);
        if (error != PacketError.None) return Done(NatTranslateResult.Dropped(error));
        if (ip.IsFragment) return Done(NatTranslateResult.Untranslated(UntranslatedReason.Fragment));
        if (ip.Protocol is IpProtocol.Tcp or IpProtocol.Udp)
        {
            var transport = ip.Payload;
            var key = new FlowKey((NatProtocol)ip.ProtocolNumber, ip.Source, BinaryPrimitives.ReadUInt16BigEndian(transport),
                ip.Destination, BinaryPrimitives.ReadUInt16BigEndian(transport[2..]));
            byte tcpFlags = ip.Protocol == IpProtocol.Tcp ? transport[TcpHeader.FlagsOffset] : (byte)0;
            return new PacketPlan(PacketPlanKind.Flow, key, ip.HeaderLength, ip.TotalLength, default, tcpFlags);
        }
        if (ip.Protocol != IpProtocol.Icmp) return Done(NatTranslateResult.Untranslated(UntranslatedReason.UnsupportedProtocol));
        var icmp = ip.Icmp;
        if (icmp.IsQuery)
            return new PacketPlan(PacketPlanKind.Flow, FlowKey.Icmp(ip.Source, ip.Destination, icmp.Identifier), ip.HeaderLength, ip.TotalLength, default);
        if (!icmp.IsError) return Done(NatTranslateResult.Untranslated(UntranslatedReason.UnsupportedIcmpType));
        // RFC 5508 REQ-3: an error whose own checksum fails is dropped (the rewrite would otherwise hide the damage).
        if (!InternetChecksum.Verify(ip.Payload)) return Done(NatTranslateResult.Dropped(PacketError.BadIcmpChecksum));
        var embeddedError = IcmpErrorView.TryRead(ip, out var embedded, out bool translatable);
        if (embeddedError != PacketError.None) return Done(NatTranslateResult.Dropped(embeddedError));
        if (!translatable) return Done(NatTranslateResult.Untranslated(UntranslatedReason.IcmpErrorNotTranslatable));
        // The error travels opposite to the datagram it carries: look up the carried flow reversed.
        return new PacketPlan(PacketPlanKind.IcmpError, embedded.Reversed, ip.HeaderLength, ip.TotalLength, default);
    }

    private static PacketPlan Done(NatTranslateResult result) => new(PacketPlanKind.Done, default, 0, 0, result);

    /// <summary>
    /// Rewrites a planned packet with a found connection. TTL ≤ 1 on arrival gives TtlExceeded and leaves the
    /// packet unchanged (RFC 1812 §5.3.1; mirage-nat would forward TTL 1 as 0).
    /// </summary>
    /// <param name="packet">The datagram.</param>
    /// <param name="plan">Its plan.</param>
    /// <param name="lookup">The connection found.</param>
    /// <returns>Translated, or TtlExceeded.</returns>
    public static NatTranslateResult Apply(Span<byte> packet, in PacketPlan plan, in NatLookup lookup)
        => Apply(packet, plan, FlowRewrite.Of(lookup));

    /// <summary>True when a planned packet arrived with TTL ≤ 1 (it will not be forwarded, so it changes no state).</summary>
    /// <param name="packet">The datagram.</param>
    /// <returns>True when its TTL is 0 or 1.</returns>
    public static bool TtlExpires(Span<byte> packet) => packet[Ipv4Packet.TtlOffset] <= 1;

    /// <summary>
    /// Rewrites a planned packet with a store's short answer; TTL ≤ 1 on arrival gives TtlExceeded and leaves the
    /// packet unchanged, as <see cref="Apply(Span{byte}, in PacketPlan, in NatLookup)"/>.
    /// </summary>
    /// <param name="packet">The datagram.</param>
    /// <param name="plan">Its plan.</param>
    /// <param name="rewrite">What it becomes.</param>
    /// <returns>Translated, or TtlExceeded.</returns>
    public static NatTranslateResult Apply(Span<byte> packet, in PacketPlan plan, in FlowRewrite rewrite)
    {
        var datagram = packet[..plan.TotalLength];
        if (datagram[Ipv4Packet.TtlOffset] <= 1) return NatTranslateResult.TtlExceeded;
        var to = rewrite.To;
        if (plan.Kind == PacketPlanKind.Flow)
        {
            // The plan validated the headers: the rewrite needs no second look.
            FlowRewriter.RewriteWhole(ref MemoryMarshal.GetReference(datagram), plan.HeaderLength, (IpProtocol)datagram[Ipv4Packet.ProtocolOffset], to, decrementTtl: true);
        }
        else
        {
            // The embedded datagram is the reverse of the looked-up flow; the outer destination is the flow's new
            // destination. The outer source changes only when the error came from the flow's own far end (an
            // intermediate router's address is not part of the mapping and stays).
            var ip = Ipv4Packet.FromValidated(datagram, plan.HeaderLength);
            var outerSource = ip.Source == plan.LookupKey.Source ? to.Source : ip.Source;
            FlowRewriter.RewriteIcmpError(ip, to.Reversed, outerSource, to.Destination, decrementTtl: true);
        }
        return NatTranslateResult.Translated(rewrite.Direction);
    }
}
