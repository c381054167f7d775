namespace NatFramework;

/// <summary>
/// How a NAT chooses the public endpoint of an inside endpoint's connections (RFC 4787 §4.1, RFC 5382 §5.1).
/// </summary>
public enum NatMappingBehavior : byte
{
    /// <summary>
    /// Every connection from one inside endpoint (address and port, or ICMP identifier) uses one public endpoint, whatever
    /// its destination, for as long as any of them lives (RFC 4787 REQ-1, RFC 5382 REQ-1). What hole punching, STUN and
    /// the applications built on them (WebRTC, games, VoIP) need. The default.
    /// </summary>
    EndpointIndependent,

    /// <summary>
    /// Each connection gets a public port of its own, chosen for its full five-tuple: mirage-nat's behaviour, and what a
    /// caller's own port allocator gets in <c>AddNat</c>.
    /// </summary>
    AddressAndPortDependent,
}
