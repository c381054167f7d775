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
    /// <summary>A new flow arrived on the inside from a source in no inside network of the policy's source-NAT rules.</summary>
    NotFromInsideNetwork,
    /// <summary>A new flow arrived from outside with a source in an inside network: spoofed, never translated.</summary>
    SpoofedSource,
    /// <summary>A new flow whose source or destination is not unicast (broadcast, multicast, 0.0.0.0, loopback, …).</summary>
    NotUnicast,
    /// <summary>A new flow was refused: the table is full and could not make room.</summary>
    TableFull,
    /// <summary>A new flow was refused: its inside host has as many connections as the policy allows (RFC 6888).</summary>
    QuotaExceeded,
    /// <summary>A new flow was refused: every port tried was taken.</summary>
    NoFreePort,
    /// <summary>
    /// A packet from outside to a live endpoint-independent mapping that the policy's filtering keeps out (address-dependent
    /// filtering: the inside endpoint has not sent to its source address).
    /// </summary>
    Filtered,
}

/// <summary>The outcome of translating one packet. Never an exception: the packet path uses values.</summary>
/// <remarks>
/// Held as one 64-bit word, not five byte fields: the translator returns it from inside an exception handler, where it
/// lives in a stack slot, and a result written as five bytes and read back as one word stalled the store-to-load
/// forwarding of every packet (a quarter of the samples of a 1,000-flow packet sat on that reload).
/// </remarks>
public readonly struct NatTranslateResult : IEquatable<NatTranslateResult>
{
    private const int ReasonShift = 8, ErrorShift = 16, DirectionShift = 24, CreatedShift = 32;

    private readonly ulong _bits;

    /// <summary>Creates a result.</summary>
    /// <param name="status">What happened.</param>
    /// <param name="reason">Why not translated.</param>
    /// <param name="error">Why dropped.</param>
    /// <param name="direction">Which way a translated packet travelled.</param>
    /// <param name="created">True when the translation created the packet's connection.</param>
    public NatTranslateResult(NatTranslateStatus status, UntranslatedReason reason = UntranslatedReason.None,
        PacketError error = PacketError.None, FlowDirection direction = FlowDirection.Outbound, bool created = false)
        => _bits = (byte)status | (ulong)(byte)reason << ReasonShift | (ulong)(byte)error << ErrorShift
            | (ulong)(byte)direction << DirectionShift | (created ? 1UL << CreatedShift : 0);

    /// <summary>What happened.</summary>
    public NatTranslateStatus Status => (NatTranslateStatus)(byte)_bits;

    /// <summary>Why the packet was not translated (for <see cref="NatTranslateStatus.Untranslated"/>).</summary>
    public UntranslatedReason Reason => (UntranslatedReason)(byte)(_bits >> ReasonShift);

    /// <summary>Why the packet was dropped (for <see cref="NatTranslateStatus.Dropped"/>).</summary>
    public PacketError Error => (PacketError)(byte)(_bits >> ErrorShift);

    /// <summary>Which way the translated packet travelled.</summary>
    public FlowDirection Direction => (FlowDirection)(byte)(_bits >> DirectionShift);

    /// <summary>True when the packet was the first of its flow and the translator created its connection by the policy.</summary>
    public bool Created => (_bits >> CreatedShift & 1) != 0;

    /// <summary>True when the packet was rewritten.</summary>
    public bool IsTranslated => Status == NatTranslateStatus.Translated;

    /// <summary>A translated result.</summary>
    /// <param name="direction">The direction of the translated packet.</param>
    /// <returns>The result.</returns>
    public static NatTranslateResult Translated(FlowDirection direction) => new(NatTranslateStatus.Translated, direction: direction);

    /// <summary>The result of the packet whose connection this translation created.</summary>
    /// <returns>The same result, marked as the packet that created its connection when it was translated.</returns>
    public NatTranslateResult AsCreated() => new(Status, Reason, Error, Direction, created: Status == NatTranslateStatus.Translated);

    /// <summary>An untranslated result.</summary>
    /// <param name="reason">Why it was not translated.</param>
    /// <returns>The result.</returns>
    public static NatTranslateResult Untranslated(UntranslatedReason reason) => new(NatTranslateStatus.Untranslated, reason);

    /// <summary>A dropped result.</summary>
    /// <param name="error">What is wrong with the packet.</param>
    /// <returns>The result.</returns>
    public static NatTranslateResult Dropped(PacketError error) => new(NatTranslateStatus.Dropped, error: error);

    /// <summary>The TTL-exceeded result.</summary>
    public static NatTranslateResult TtlExceeded => new(NatTranslateStatus.TtlExceeded);

    /// <summary>The store-unavailable result.</summary>
    public static NatTranslateResult StoreUnavailable => new(NatTranslateStatus.StoreUnavailable);

    /// <inheritdoc/>
    public bool Equals(NatTranslateResult other) => _bits == other._bits;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NatTranslateResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _bits.GetHashCode();

    /// <summary>Equality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator ==(NatTranslateResult left, NatTranslateResult right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator !=(NatTranslateResult left, NatTranslateResult right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => Status switch
    {
        NatTranslateStatus.Untranslated => $"Untranslated ({Reason})",
        NatTranslateStatus.Dropped => $"Dropped ({Error})",
        NatTranslateStatus.Translated => $"Translated ({Direction}{(Created ? ", created" : "")})",
        _ => Status.ToString(),
    };
}

