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
    // An early result is always CannotNat, so only its reason and error are kept: a whole NatAddResult here doubled the
    // plan's size, and every AddNat zeroed and copied it.
    private readonly CannotNatReason _cannotNatReason;
    private readonly PacketError _cannotNatError;

    internal AddPlan(CannotNatReason cannotNat, PacketError error, in FlowKey outbound, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort,
        bool redirect, IPortAllocator? ports, long now, long expiredBefore)
    {
        _cannotNatReason = cannotNat;
        _cannotNatError = error;
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
    public bool IsDone => _cannotNatReason != CannotNatReason.None;

    /// <summary>The result when <see cref="IsDone"/>.</summary>
    public NatAddResult Early => NatAddResult.CannotNat(_cannotNatReason, _cannotNatError);

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
    private readonly bool _translatorExpires; // expiry on and left to the translator's cutoffs (one field for the packet path)

    /// <summary>Creates the core from options (validated and copied) and a time source.</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public TranslatorCore(NatOptions? options, TimeProvider? timeProvider, bool storeExpiresNatively)
    {
        Options = (options ?? new NatOptions()).Clone();
        Options.Validate();
        _clock = new NatClock(timeProvider);
        Ports = PortAllocator.FromOptions(Options);
        _storeExpires = storeExpiresNatively;
        _translatorExpires = Options.ExpiryEnabled && !storeExpiresNatively;
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
        if (!_translatorExpires) return long.MinValue;
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

    /// <summary>
    /// Reads the flow of the packet nearly all traffic is: an IPv4 header without options and with a valid checksum,
    /// a total length within the buffer, TTL above 1, not a fragment, a whole TCP or UDP header. False for anything
    /// else, which <see cref="Plan"/> then parses and classifies in full. Never throws on packet bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadCommonFlow(Span<byte> packet, out FlowKey key)
    {
        // Written with raw reads after one length check: span slices and BinaryPrimitives calls are each an inlinee,
        // and together they used up the JIT's inlining budget for the translator method this is inlined into.
        const int UdpDatagram = Ipv4Packet.MinHeaderLength + UdpHeader.Length, TcpDatagram = Ipv4Packet.MinHeaderLength + TcpHeader.MinLength;
        if (packet.Length >= UdpDatagram)
        {
            ref byte ip = ref MemoryMarshal.GetReference(packet);
            int totalLength = BigEndian16(ref ip, Ipv4Packet.TotalLengthOffset);
            byte protocol = Unsafe.Add(ref ip, Ipv4Packet.ProtocolOffset);
            // Version 4 with IHL 5, MF clear and fragment offset 0 (DF may be set), TTL above 1.
            bool common = ip == 0x45 && totalLength <= packet.Length && Unsafe.Add(ref ip, Ipv4Packet.TtlOffset) > 1
                && ((Unsafe.Add(ref ip, Ipv4Packet.FlagsOffset) & 0x3F) | Unsafe.Add(ref ip, Ipv4Packet.FlagsOffset + 1)) == 0;
            if (protocol == (byte)IpProtocol.Udp) common &= totalLength >= UdpDatagram;
            else if (protocol == (byte)IpProtocol.Tcp)
            {
                // The data offset byte (offset 32) is read only once the lengths show the buffer holds a whole TCP header.
                common &= totalLength >= TcpDatagram;
                if (common)
                {
                    int dataOffset = (Unsafe.Add(ref ip, Ipv4Packet.MinHeaderLength + TcpHeader.DataOffsetOffset) >> 4) * 4;
                    common = dataOffset >= TcpHeader.MinLength && dataOffset <= totalLength - Ipv4Packet.MinHeaderLength;
                }
            }
            else common = false;
            if (common && HeaderChecksumValid(ref ip))
            {
                key = new FlowKey((NatProtocol)protocol,
                    new Ipv4Address(BigEndian32(ref ip, Ipv4Packet.SourceOffset)), BigEndian16(ref ip, Ipv4Packet.MinHeaderLength),
                    new Ipv4Address(BigEndian32(ref ip, Ipv4Packet.DestinationOffset)), BigEndian16(ref ip, Ipv4Packet.MinHeaderLength + 2));
                return true;
            }
        }
        key = default;
        return false;
    }

    /// <summary>The checksum of a 20-byte header: its five words summed in the machine's order (RFC 1071 §2(B)) fold to 0xFFFF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HeaderChecksumValid(ref byte ip)
    {
        ulong sum = (ulong)Unsafe.ReadUnaligned<uint>(ref ip) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 4))
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 8)) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 12))
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, 16));
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        return InternetChecksum.Fold((uint)sum) == 0xFFFF;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort BigEndian16(ref byte at, int offset)
    {
        ushort value = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref at, offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint BigEndian32(ref byte at, int offset)
    {
        uint value = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref at, offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    /// <summary>
    /// Rewrites a packet <see cref="TryReadCommonFlow"/> accepted (and nothing since changed) to a found connection's
    /// flow: addresses, ports, one less TTL, both checksums updated incrementally.
    /// </summary>
    /// <exception cref="ArgumentException">The packet has IP options or is too short to be a TCP or UDP datagram.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NatTranslateResult RewriteCommonFlow(Span<byte> packet, in FlowRewrite rewrite)
    {
        // Cheap guards, because the rewrite writes without bounds checks at fixed offsets: a 20-byte header, and room up
        // to the transport checksum (TCP's is the farthest field).
        if (packet.Length < Ipv4Packet.MinHeaderLength + UdpHeader.Length || packet[0] != 0x45
            || (packet.Length < Ipv4Packet.MinHeaderLength + TcpHeader.MinLength && packet[Ipv4Packet.ProtocolOffset] != (byte)IpProtocol.Udp))
            ThrowNotCommon();
        FlowRewriter.RewriteWhole(ref MemoryMarshal.GetReference(packet), Ipv4Packet.MinHeaderLength,
            (IpProtocol)packet[Ipv4Packet.ProtocolOffset], rewrite.To, decrementTtl: true);
        return NatTranslateResult.Translated(rewrite.Direction);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotCommon() => throw new ArgumentException("RewriteCommonFlow needs a packet TryReadCommonFlow accepted.", "packet");

    /// <summary>Parses and classifies a packet for translation. Never throws on packet bytes.</summary>
    public static PacketPlan Plan(Span<byte> packet)
    {
        // The common case inline; everything else, options and TTL 1 included, goes out of line.
        if (TryReadCommonFlow(packet, out var key))
            return new PacketPlan(PacketPlanKind.Flow, key, Ipv4Packet.MinHeaderLength, BigEndian16(ref MemoryMarshal.GetReference(packet), Ipv4Packet.TotalLengthOffset), default);
        return PlanOther(packet);
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
            return new PacketPlan(PacketPlanKind.Flow, key, ip.HeaderLength, ip.TotalLength, default);
        }
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
    public static NatTranslateResult Apply(Span<byte> packet, in PacketPlan plan, in NatLookup lookup)
        => Apply(packet, plan, FlowRewrite.Of(lookup));

    /// <summary>
    /// Rewrites a planned packet with a store's short answer; TTL ≤ 1 on arrival gives TtlExceeded and leaves the
    /// packet unchanged, as <see cref="Apply(Span{byte}, in PacketPlan, in NatLookup)"/>.
    /// </summary>
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

    /// <summary>Checks a packet for AddNat / AddRedirect and prepares the attempts.</summary>
    public AddPlan PlanAdd(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        // Parsing only reads; the span is writable solely because the packet view type is shared with rewriting.
        var writable = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(packet), packet.Length);
        // A whole, valid TCP or UDP datagram leaves only the address checks; the full parse (and the order in which it
        // reports problems) is kept out of line for everything else.
        if (!TryReadCommonFlow(writable, out var outbound)) return PlanAddOther(writable, publicAddress, redirect, target, targetPort, ports);
        if (!IsValidPublicAddress(publicAddress)) return Early(CannotNatReason.InvalidPublicAddress);
        if (redirect && targetPort == 0) return Early(CannotNatReason.InvalidTargetPort);
        if (!AreUnicast(outbound, redirect, target)) return Early(CannotNatReason.NotUnicast);
        return Ready(outbound, publicAddress, redirect, target, targetPort, ports);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private AddPlan PlanAddOther(Span<byte> packet, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        var error = Ipv4Packet.TryParse(packet, out var ip);
        if (error != PacketError.None) return Early(CannotNatReason.Malformed, error);
        if (ip.IsFragment) return Early(CannotNatReason.Fragment);
        if (!IsValidPublicAddress(publicAddress)) return Early(CannotNatReason.InvalidPublicAddress);
        if (!ip.Source.IsUnicastRoutable || !ip.Destination.IsUnicastRoutable
            || (redirect && !target.IsUnicastRoutable))
            return Early(CannotNatReason.NotUnicast);
        if (ip.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Icmp))
            return Early(CannotNatReason.UnsupportedProtocol);
        if (!FlowKey.TryRead(ip, out var outbound)) return Early(CannotNatReason.IcmpNotQuery);
        if (redirect && outbound.Protocol == NatProtocol.Icmp) return Early(CannotNatReason.IcmpRedirect);
        if (redirect && targetPort == 0) return Early(CannotNatReason.InvalidTargetPort);
        return Ready(outbound, publicAddress, redirect, target, targetPort, ports);
    }

    private static bool IsValidPublicAddress(Ipv4Address publicAddress) => publicAddress != Ipv4Address.Any && publicAddress.IsUnicastRoutable;

    private static bool AreUnicast(in FlowKey outbound, bool redirect, Ipv4Address target)
        => outbound.Source.IsUnicastRoutable && outbound.Destination.IsUnicastRoutable && (!redirect || target.IsUnicastRoutable);

    private AddPlan Ready(in FlowKey outbound, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        long now = Now;
        return new AddPlan(CannotNatReason.None, PacketError.None, outbound, publicAddress, target, targetPort, redirect, ports ?? Ports, now, ExpiredBefore(outbound.Protocol, now));
    }

    private static AddPlan Early(CannotNatReason reason, PacketError error = PacketError.None) => new(reason, error, default, default, default, 0, false, null, 0, 0);

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
