using NatFramework.Packets;

namespace NatFramework;

/// <summary>What happened to a packet given to Translate.</summary>
public enum NatTranslateStatus : byte
{
    /// <summary>The packet was rewritten in place; forward it.</summary>
    Translated,
    /// <summary>No connection applies; see <see cref="NatTranslateResult.Reason"/>. The packet is unchanged.</summary>
    Untranslated,
    /// <summary>A connection applies but TTL ≤ 1 on arrival (RFC 1812 §5.3.1): answer ICMP Time Exceeded. The packet is unchanged.</summary>
    TtlExceeded,
    /// <summary>The packet is malformed; see <see cref="NatTranslateResult.Error"/>. The packet is unchanged.</summary>
    Dropped,
    /// <summary>The store could not be reached; the packet is unchanged.</summary>
    StoreUnavailable,
}

/// <summary>Why a packet was not translated.</summary>
public enum UntranslatedReason : byte
{
    /// <summary>Not applicable.</summary>
    None,
    /// <summary>No live connection has the packet's flow.</summary>
    NoConnection,
    /// <summary>The protocol is not TCP, UDP or ICMP.</summary>
    UnsupportedProtocol,
    /// <summary>An ICMP message that is neither a query nor an error (e.g. router advertisement).</summary>
    UnsupportedIcmpType,
    /// <summary>An ICMP error about a datagram NAT cannot key (an ICMP error, a non-first fragment, another protocol).</summary>
    IcmpErrorNotTranslatable,
    /// <summary>A fragment: reassemble first (see <c>Ipv4Reassembler</c>).</summary>
    Fragment,
}

/// <summary>The outcome of translating one packet. Never an exception: the packet path uses values.</summary>
public readonly struct NatTranslateResult : IEquatable<NatTranslateResult>
{
    /// <summary>Creates a result.</summary>
    public NatTranslateResult(NatTranslateStatus status, UntranslatedReason reason = UntranslatedReason.None,
        PacketError error = PacketError.None, FlowDirection direction = FlowDirection.Outbound)
    {
        Status = status;
        Reason = reason;
        Error = error;
        Direction = direction;
    }

    /// <summary>What happened.</summary>
    public NatTranslateStatus Status { get; }

    /// <summary>Why the packet was not translated (for <see cref="NatTranslateStatus.Untranslated"/>).</summary>
    public UntranslatedReason Reason { get; }

    /// <summary>Why the packet was dropped (for <see cref="NatTranslateStatus.Dropped"/>).</summary>
    public PacketError Error { get; }

    /// <summary>Which way the translated packet travelled.</summary>
    public FlowDirection Direction { get; }

    /// <summary>True when the packet was rewritten.</summary>
    public bool IsTranslated => Status == NatTranslateStatus.Translated;

    /// <summary>A translated result.</summary>
    public static NatTranslateResult Translated(FlowDirection direction) => new(NatTranslateStatus.Translated, direction: direction);

    /// <summary>An untranslated result.</summary>
    public static NatTranslateResult Untranslated(UntranslatedReason reason) => new(NatTranslateStatus.Untranslated, reason);

    /// <summary>A dropped result.</summary>
    public static NatTranslateResult Dropped(PacketError error) => new(NatTranslateStatus.Dropped, error: error);

    /// <summary>The TTL-exceeded result.</summary>
    public static NatTranslateResult TtlExceeded => new(NatTranslateStatus.TtlExceeded);

    /// <summary>The store-unavailable result.</summary>
    public static NatTranslateResult StoreUnavailable => new(NatTranslateStatus.StoreUnavailable);

    /// <inheritdoc/>
    public bool Equals(NatTranslateResult other) => Status == other.Status && Reason == other.Reason && Error == other.Error && Direction == other.Direction;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NatTranslateResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Status, Reason, Error, Direction);

    /// <summary>Equality.</summary>
    public static bool operator ==(NatTranslateResult left, NatTranslateResult right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NatTranslateResult left, NatTranslateResult right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => Status switch
    {
        NatTranslateStatus.Untranslated => $"Untranslated ({Reason})",
        NatTranslateStatus.Dropped => $"Dropped ({Error})",
        NatTranslateStatus.Translated => $"Translated ({Direction})",
        _ => Status.ToString(),
    };
}

/// <summary>What happened to an AddNat or AddRedirect.</summary>
public enum NatAddStatus : byte
{
    /// <summary>The connection exists now (created, or it was already there and is the same mapping).</summary>
    Ok,
    /// <summary>A direction of the connection is taken by a different connection (after every port attempt).</summary>
    Overlap,
    /// <summary>The packet cannot be NATed; see <see cref="NatAddResult.Reason"/>.</summary>
    CannotNat,
    /// <summary>The store is full and cannot evict.</summary>
    TableFull,
    /// <summary>The store could not be reached.</summary>
    StoreUnavailable,
}

/// <summary>Why a packet cannot be NATed.</summary>
public enum CannotNatReason : byte
{
    /// <summary>Not applicable.</summary>
    None,
    /// <summary>The packet is malformed; see <see cref="NatAddResult.Error"/>.</summary>
    Malformed,
    /// <summary>Source or destination is not unicast-routable (broadcast, multicast, 0.0.0.0, loopback, link-local, reserved).</summary>
    NotUnicast,
    /// <summary>Not TCP, UDP or ICMP.</summary>
    UnsupportedProtocol,
    /// <summary>An ICMP message that is not a query (only echo, timestamp and information queries open mappings).</summary>
    IcmpNotQuery,
    /// <summary>Redirect is a port-based operation; ICMP cannot be redirected (as in mirage-nat).</summary>
    IcmpRedirect,
    /// <summary>A fragment: reassemble first.</summary>
    Fragment,
    /// <summary>The public address is 0.0.0.0 or not unicast.</summary>
    InvalidPublicAddress,
    /// <summary>A Redirect to port 0, which no host can be reached at.</summary>
    InvalidTargetPort,
}

/// <summary>The outcome of AddNat or AddRedirect.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Connection">The connection that now serves the packet's flow, when <see cref="NatAddStatus.Ok"/>.</param>
/// <param name="Reason">Why, when <see cref="NatAddStatus.CannotNat"/>.</param>
/// <param name="Error">The parse error, when the reason is <see cref="CannotNatReason.Malformed"/>.</param>
public readonly record struct NatAddResult(NatAddStatus Status, NatConnection Connection = default,
    CannotNatReason Reason = CannotNatReason.None, PacketError Error = PacketError.None)
{
    /// <summary>True for <see cref="NatAddStatus.Ok"/>.</summary>
    public bool IsOk => Status == NatAddStatus.Ok;

    /// <summary>A CannotNat result.</summary>
    public static NatAddResult CannotNat(CannotNatReason reason, PacketError error = PacketError.None) => new(NatAddStatus.CannotNat, default, reason, error);
}

/// <summary>The public ports and ICMP identifiers freed by RemoveConnections, per protocol, and the connections removed.</summary>
public sealed class FreedPorts
{
    /// <summary>Creates the summary from removed connections.</summary>
    // Fully optimised at once: built rarely, but over every removed connection, which tier-0 code walked slowly. Two
    // passes over a span (count, then fill exactly sized arrays) instead of growing three lists through an enumerator.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public FreedPorts(IReadOnlyList<NatConnection> removed)
    {
        Connections = removed;
        ReadOnlySpan<NatConnection> all = removed is List<NatConnection> list
            ? System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list)
            : removed.ToArray();
        int tcpCount = 0, udpCount = 0;
        foreach (ref readonly var connection in all)
        {
            if (connection.Protocol == NatProtocol.Tcp) tcpCount++;
            else if (connection.Protocol == NatProtocol.Udp) udpCount++;
        }
        var tcp = new ushort[tcpCount];
        var udp = new ushort[udpCount];
        var icmp = new ushort[all.Length - tcpCount - udpCount];
        int t = 0, u = 0, i = 0;
        foreach (ref readonly var connection in all)
        {
            if (connection.Protocol == NatProtocol.Tcp) tcp[t++] = connection.AllocatedPort;
            else if (connection.Protocol == NatProtocol.Udp) udp[u++] = connection.AllocatedPort;
            else icmp[i++] = connection.AllocatedPort;
        }
        Tcp = tcp;
        Udp = udp;
        Icmp = icmp;
    }

    /// <summary>Freed TCP ports.</summary>
    public IReadOnlyList<ushort> Tcp { get; }

    /// <summary>Freed UDP ports.</summary>
    public IReadOnlyList<ushort> Udp { get; }

    /// <summary>Freed ICMP identifiers.</summary>
    public IReadOnlyList<ushort> Icmp { get; }

    /// <summary>The removed connections.</summary>
    public IReadOnlyList<NatConnection> Connections { get; }
}
