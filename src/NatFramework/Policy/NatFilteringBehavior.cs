namespace NatFramework;

/// <summary>
/// Which packets from outside a NAT lets in to an endpoint-independent mapping when no connection of theirs exists yet
/// (RFC 4787 §5, RFC 5382 §5.2). A packet let in opens a connection on the mapping (same public endpoint) and is
/// translated; one kept out is <see cref="UntranslatedReason.Filtered"/>.
/// </summary>
public enum NatFilteringBehavior : byte
{
    /// <summary>
    /// Anyone may reach a live mapping (RFC 4787 REQ-8's recommendation where application transparency matters most):
    /// the inside endpoint is reachable while its mapping lives.
    /// </summary>
    EndpointIndependent,

    /// <summary>
    /// Only an address the inside endpoint has sent to through the mapping (any port of it) may reach it: what hole
    /// punching needs, without opening the mapping to everyone. The default.
    /// </summary>
    AddressDependent,

    /// <summary>Only the exact endpoint a connection goes to: nothing unsolicited gets in (mirage-nat's behaviour).</summary>
    AddressAndPortDependent,
}
