using System.Buffers.Binary;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework.Translation;

/// <summary>What <see cref="TranslatorCore.Plan"/> found a packet to be.</summary>
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
public readonly struct PacketPlan
{
    internal PacketPlan(PacketPlanKind kind, in FlowKey lookupKey, int headerLength, int totalLength, NatTranslateResult result)
    {
        Kind = kind;
        LookupKey = lookupKey;
        HeaderLength = headerLength;
        TotalLength = totalLength;
        Result = result;
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

    /// <summary>True when no lookup is needed.</summary>
    public bool IsDone => Kind == PacketPlanKind.Done;
}

/// <summary>An add (NAT or Redirect) in progress: the checked flow and how to make candidate connections.</summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct AddPlan
{
    private readonly IPortAllocator? _ports;

    internal AddPlan(NatAddResult? early, in FlowKey outbound, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort,
        bool redirect, IPortAllocator? ports, long now, long expiredBefore)
    {
        Early = early ?? default;
        IsDone = early.HasValue;
        Outbound = outbound;
        PublicAddress = publicAddress;
        Target = target;
        TargetPort = targetPort;
        IsRedirect = redirect;
        _ports = ports;
        Now = now;
        ExpiredBefore = expiredBefore;
    }

    /// <summary>True when the add was decided without the store (CannotNat).</summary>
    public bool IsDone { get; }

    /// <summary>The result when <see cref="IsDone"/>.</summary>
    public NatAddResult Early { get; }

    /// <summary>The packet's flow.</summary>
    public FlowKey Outbound { get; }

    /// <summary>The public (translated source) address.</summary>
    public Ipv4Address PublicAddress { get; }

    /// <summary>The redirect target.</summary>
    public Ipv4Address Target { get; }

    /// <summary>The redirect target port.</summary>
    public ushort TargetPort { get; }

    /// <summary>True for Redirect.</summary>
    public bool IsRedirect { get; }

    /// <summary>The time of the add.</summary>
    public long Now { get; }

    /// <summary>The expiry cutoff for the flow's protocol.</summary>
    public long ExpiredBefore { get; }

    /// <summary>The candidate connection of attempt <paramref name="attempt"/>; false when the allocator has none.</summary>
    public bool TryCandidate(int attempt, out NatConnection connection)
    {
        if (_ports is null || !_ports.TryGetCandidate(Outbound, attempt, out ushort port))
        {
            connection = default;
            return false;
        }
        var translated = IsRedirect
            ? new FlowKey(Outbound.Protocol, PublicAddress, port, Target, TargetPort)
            : Outbound.WithSource(PublicAddress, port);
        connection = new NatConnection(Outbound, translated, Now, IsRedirect ? NatConnectionFlags.Redirect : NatConnectionFlags.None);
        return true;
    }

    /// <summary>
    /// Turns a store's insert answer into a result, or null to try the next port. An outbound key already held
    /// by the same kind of mapping (NAT to the same public address, or Redirect to the same target) is Ok:
    /// re-adding a connection is idempotent, even when two threads race to add the same flow.
    /// </summary>
    public NatAddResult? Complete(NatInsertStatus status, in NatConnection candidate, in NatLookup existing) => status switch
    {
        NatInsertStatus.Inserted => new NatAddResult(NatAddStatus.Ok, candidate),
        NatInsertStatus.OutboundTaken => IsSameMapping(existing) ? new NatAddResult(NatAddStatus.Ok, existing.Connection) : new NatAddResult(NatAddStatus.Overlap),
        NatInsertStatus.TableFull => new NatAddResult(NatAddStatus.TableFull),
        _ => null,
    };

    /// <summary>The result when every attempt found the reply key taken.</summary>
    public NatAddResult Exhausted => new(NatAddStatus.Overlap);

    private bool IsSameMapping(in NatLookup existing)
    {
        var c = existing.Connection;
        if (existing.Direction != FlowDirection.Outbound || c.IsRedirect != IsRedirect || c.Translated.Source != PublicAddress) return false;
        return !IsRedirect || (c.Translated.Destination == Target && c.Translated.DestinationPort == TargetPort);
    }
}

/// <summary>
/// The store-independent half of every generated translator: parsing, classification, rewriting, expiry
/// arithmetic and port attempts. Generated code supplies the other half, the store calls, so that it can call
/// the store's members directly. Public only for generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class TranslatorCore
{
    private readonly NatClock _clock;
    private readonly long _tcpTimeout, _udpTimeout, _icmpTimeout;
    private readonly long _tcpRefresh, _udpRefresh, _icmpRefresh;
    private readonly bool _storeExpires;

    /// <summary>Creates the core from options (validated and copied) and a time source.</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public TranslatorCore(NatOptions? options, TimeProvider? timeProvider, bool storeExpiresNatively)
    {
        Options = (options ?? new NatOptions()).Clone();
        Options.Validate();
        _clock = new NatClock(timeProvider);
        Ports = PortAllocator.FromOptions(Options);
        _storeExpires = storeExpiresNatively;
        _tcpTimeout = Ms(Options.TcpTimeout);
        _udpTimeout = Ms(Options.UdpTimeout);
        _icmpTimeout = Ms(Options.IcmpTimeout);
        _tcpRefresh = _tcpTimeout / Options.RefreshDivisor;
        _udpRefresh = _udpTimeout / Options.RefreshDivisor;
        _icmpRefresh = _icmpTimeout / Options.RefreshDivisor;
    }

    private static long Ms(TimeSpan value) => (long)value.TotalMilliseconds;

    /// <summary>The validated options.</summary>
    public NatOptions Options { get; }

    /// <summary>The default port allocator built from the options.</summary>
    public IPortAllocator Ports { get; }

    /// <summary>The timeouts a store with native expiry should apply (null when expiry is disabled).</summary>
    public NatTimeouts? NativeExpiryTimeouts => Options.ExpiryEnabled ? Options.Timeouts : null;

    /// <summary>Now, in the clock's milliseconds.</summary>
    public long Now
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _clock.NowMilliseconds;
    }

    /// <summary>The expiry cutoff of <paramref name="protocol"/> at <paramref name="now"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ExpiredBefore(NatProtocol protocol, long now)
    {
        if (!Options.ExpiryEnabled || _storeExpires) return long.MinValue;
        return now - protocol switch { NatProtocol.Tcp => _tcpTimeout, NatProtocol.Udp => _udpTimeout, _ => _icmpTimeout };
    }

    /// <summary>The cutoffs of every protocol at <paramref name="now"/>.</summary>
    public ExpiryCutoffs Cutoffs(long now) => !Options.ExpiryEnabled || _storeExpires
        ? ExpiryCutoffs.Never
        : new(now - _tcpTimeout, now - _udpTimeout, now - _icmpTimeout);

    /// <summary>True when the connection's last-seen time is older than its refresh interval, so a Touch is due.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool NeedsTouch(in NatConnection connection, long now)
        => now - connection.LastSeen >= connection.Protocol switch { NatProtocol.Tcp => _tcpRefresh, NatProtocol.Udp => _udpRefresh, _ => _icmpRefresh };

    /// <summary>Parses and classifies a packet for translation. Never throws on packet bytes.</summary>
    public static PacketPlan Plan(Span<byte> packet)
    {
        // The common case inline: a whole, valid TCP or UDP datagram. Everything else goes out of line.
        if (Ipv4Packet.TryParse(packet, out var ip) == PacketError.None && !ip.IsFragment && ip.Protocol is IpProtocol.Tcp or IpProtocol.Udp)
        {
            var transport = ip.Payload;
            var key = new FlowKey((NatProtocol)ip.ProtocolNumber, ip.Source, BinaryPrimitives.ReadUInt16BigEndian(transport),
                ip.Destination, BinaryPrimitives.ReadUInt16BigEndian(transport[2..]));
            return new PacketPlan(PacketPlanKind.Flow, key, ip.HeaderLength, ip.TotalLength, default);
        }
        return PlanOther(packet);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PacketPlan PlanOther(Span<byte> packet)
    {
        var error = Ipv4Packet.TryParse(packet, out var ip);
        if (error != PacketError.None) return Done(NatTranslateResult.Dropped(error));
        if (ip.IsFragment) return Done(NatTranslateResult.Untranslated(UntranslatedReason.Fragment));
        if (ip.Protocol != IpProtocol.Icmp) return Done(NatTranslateResult.Untranslated(UntranslatedReason.UnsupportedProtocol));
        var icmp = ip.Icmp;
        if (icmp.IsQuery)
            return new PacketPlan(PacketPlanKind.Flow, FlowKey.Icmp(ip.Source, ip.Destination, icmp.Identifier), ip.HeaderLength, ip.TotalLength, default);
        if (!icmp.IsError) return Done(NatTranslateResult.Untranslated(UntranslatedReason.UnsupportedIcmpType));
        var embeddedError = IcmpErrorView.TryRead(ip, out var embedded, out bool translatable);
        if (embeddedError != PacketError.None) return Done(NatTranslateResult.Dropped(embeddedError));
        if (!translatable) return Done(NatTranslateResult.Untranslated(UntranslatedReason.IcmpErrorNotTranslatable));
        // The error travels opposite to the datagram it carries: look up the carried flow reversed.
        return new PacketPlan(PacketPlanKind.IcmpError, embedded.Reversed, ip.HeaderLength, ip.TotalLength, default);
    }

    /// <summary>
    /// Plans every packet of a batch: decided packets get their result now; the others' lookup keys go to
    /// <paramref name="keys"/> and their index to <paramref name="indices"/>. Returns how many need a lookup.
    /// </summary>
    public static int PlanBatch(Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results,
        Span<PacketPlan> plans, Span<FlowKey> keys, Span<int> indices)
    {
        int pending = 0;
        for (int i = 0; i < packets.Length; i++)
        {
            var plan = Plan(buffer[packets[i]]);
            plans[i] = plan;
            if (plan.IsDone)
            {
                results[i] = plan.Result;
                continue;
            }
            keys[pending] = plan.LookupKey;
            indices[pending++] = i;
        }
        return pending;
    }

    private static PacketPlan Done(NatTranslateResult result) => new(PacketPlanKind.Done, default, 0, 0, result);

    /// <summary>
    /// Rewrites a planned packet with a found connection. TTL ≤ 1 on arrival gives TtlExceeded and leaves the
    /// packet unchanged (RFC 1812 §5.3.1; mirage-nat would forward TTL 1 as 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static NatTranslateResult Apply(Span<byte> packet, in PacketPlan plan, in NatLookup lookup)
    {
        var ip = Ipv4Packet.FromValidated(packet[..plan.TotalLength], plan.HeaderLength);
        if (ip.Ttl <= 1) return NatTranslateResult.TtlExceeded;
        var rewrite = lookup.Rewrite;
        if (plan.Kind == PacketPlanKind.Flow)
        {
            FlowRewriter.Rewrite(ip, rewrite, decrementTtl: true);
        }
        else
        {
            // The embedded datagram is the reverse of the looked-up flow; the outer destination is the flow's new
            // destination. The outer source changes only when the error came from the flow's own far end (an
            // intermediate router's address is not part of the mapping and stays).
            var outerSource = ip.Source == plan.LookupKey.Source ? rewrite.Source : ip.Source;
            FlowRewriter.RewriteIcmpError(ip, rewrite.Reversed, outerSource, rewrite.Destination, decrementTtl: true);
        }
        return NatTranslateResult.Translated(lookup.Direction);
    }

    /// <summary>Checks a packet for AddNat / AddRedirect and prepares the attempts.</summary>
    public AddPlan PlanAdd(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        // Parsing only reads; the span is writable solely because the packet view type is shared with rewriting.
        var writable = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(packet), packet.Length);
        var error = Ipv4Packet.TryParse(writable, out var ip);
        if (error != PacketError.None) return Early(NatAddResult.CannotNat(CannotNatReason.Malformed, error));
        if (ip.IsFragment) return Early(NatAddResult.CannotNat(CannotNatReason.Fragment));
        if (publicAddress == Ipv4Address.Any || !publicAddress.IsUnicastRoutable) return Early(NatAddResult.CannotNat(CannotNatReason.InvalidPublicAddress));
        if (!ip.Source.IsUnicastRoutable || !ip.Destination.IsUnicastRoutable
            || (redirect && !target.IsUnicastRoutable))
            return Early(NatAddResult.CannotNat(CannotNatReason.NotUnicast));
        if (ip.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Icmp))
            return Early(NatAddResult.CannotNat(CannotNatReason.UnsupportedProtocol));
        if (!FlowKey.TryRead(ip, out var outbound)) return Early(NatAddResult.CannotNat(CannotNatReason.IcmpNotQuery));
        if (redirect && outbound.Protocol == NatProtocol.Icmp) return Early(NatAddResult.CannotNat(CannotNatReason.IcmpRedirect));
        long now = Now;
        return new AddPlan(null, outbound, publicAddress, target, targetPort, redirect, ports ?? Ports, now, ExpiredBefore(outbound.Protocol, now));
    }

    private static AddPlan Early(NatAddResult result) => new(result, default, default, default, 0, false, null, 0, 0);

    /// <summary>The key IsPortFree asks about.</summary>
    public static FlowKey PortQueryKey(NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort)
        => protocol == NatProtocol.Icmp ? FlowKey.Icmp(source, destination, sourcePort) : new FlowKey(protocol, source, sourcePort, destination, destinationPort);

    /// <summary>The fallback of RemoveConnections for stores without a host index: the connections to remove.</summary>
    public static List<NatConnection> SelectConnections(IEnumerable<NatConnection> connections, Ipv4Address host)
    {
        var selected = new List<NatConnection>();
        foreach (var connection in connections)
            if (connection.Involves(host)) selected.Add(connection);
        return selected;
    }
}
