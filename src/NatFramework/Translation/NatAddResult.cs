using NatFramework.Packets;

namespace NatFramework;

/// <summary>What happened to an AddNat or AddRedirect.</summary>
public enum NatAddStatus : byte
{
    /// <summary>The connection exists now (created, or it was already there and is the same mapping).</summary>
    Ok,
    /// <summary>
    /// The flow is already mapped differently (to another public address or port, or another redirect target; the
    /// existing connection is in <see cref="NatAddResult.Connection"/>), or its reply key was taken at every port attempt.
    /// </summary>
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
    /// <summary>The inside host has as many connections of the protocol as the translator's policy allows (RFC 6888).</summary>
    QuotaExceeded,
}

/// <summary>The outcome of AddNat or AddRedirect.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Connection">
/// The connection that now serves the packet's flow, when <see cref="NatAddStatus.Ok"/>; for an <see cref="NatAddStatus.Overlap"/>
/// because the flow is already mapped differently, that existing connection (a racing caller can translate through it).
/// </param>
/// <param name="Reason">Why, when <see cref="NatAddStatus.CannotNat"/>.</param>
/// <param name="Error">The parse error, when the reason is <see cref="CannotNatReason.Malformed"/>.</param>
public readonly record struct NatAddResult(NatAddStatus Status, NatConnection Connection = default,
    CannotNatReason Reason = CannotNatReason.None, PacketError Error = PacketError.None)
{
    /// <summary>True for <see cref="NatAddStatus.Ok"/>.</summary>
    public bool IsOk => Status == NatAddStatus.Ok;

    /// <summary>A CannotNat result.</summary>
    /// <param name="reason">Why it cannot be translated.</param>
    /// <param name="error">What is wrong with the packet, when that is the reason.</param>
    /// <returns>The result.</returns>
    public static NatAddResult CannotNat(CannotNatReason reason, PacketError error = PacketError.None) => new(NatAddStatus.CannotNat, default, reason, error);
}
