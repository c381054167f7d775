namespace NatFramework;

/// <summary>
/// What a translator does with a packet that no connection has: the rules that create connections (source NAT for new
/// flows from inside networks, port forwards for new flows from outside) and the limits they are created within. An
/// immutable snapshot: a translator takes a copy when given one (<see cref="NatOptions.Policy"/>, or its <c>Policy</c>
/// property at run time, without stopping traffic).
/// </summary>
/// <remarks>
/// With a policy, <c>Translate</c> and <c>TranslateBatch</c> look up or create: a packet of a new flow gets its connection
/// and is rewritten in the same call, and the result says so (<see cref="NatTranslateResult.Created"/>). Without one
/// (<see cref="None"/>) they only look up, and connections come from <c>AddNat</c>/<c>AddRedirect</c>, as in mirage-nat.
/// The per-host limits apply to every connection the translator creates, <c>AddNat</c> and <c>AddRedirect</c> included.
/// </remarks>
public sealed record NatPolicy
{
    /// <summary>No rules and no limits: translators only look up.</summary>
    public static NatPolicy None { get; } = new();

    /// <summary>Source NAT for new flows from inside networks; the first rule whose network holds the source applies.</summary>
    public IReadOnlyList<SourceNatRule> SourceNat { get; init; } = [];

    /// <summary>Port forwards for new flows from outside; at most one per protocol, public address and port.</summary>
    public IReadOnlyList<PortForwardRule> PortForwards { get; init; } = [];

    /// <summary>
    /// The most live TCP connections one inside host may have (RFC 6888 REQ-3/4); 0, the default, for no limit. Over it a
    /// new connection is refused (<see cref="UntranslatedReason.QuotaExceeded"/>, <see cref="CannotNatReason.QuotaExceeded"/>)
    /// and other hosts are unaffected. Source-NAT connections count; connections that reach the host through a port
    /// forward take no port of the public address and neither count nor are limited (else outside clients could use up
    /// a server's quota).
    /// </summary>
    public int TcpConnectionsPerHost { get; init; }

    /// <summary>The most live UDP flows one inside host may have; 0 for no limit.</summary>
    public int UdpConnectionsPerHost { get; init; }

    /// <summary>The most live ICMP query identifiers one inside host may have; 0 for no limit.</summary>
    public int IcmpConnectionsPerHost { get; init; }

    /// <summary>The per-host limit of <paramref name="protocol"/> (0: none).</summary>
    public int HostLimitFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => TcpConnectionsPerHost,
        NatProtocol.Udp => UdpConnectionsPerHost,
        _ => IcmpConnectionsPerHost,
    };

    /// <summary>Throws when a rule or limit cannot work, naming it.</summary>
    /// <exception cref="ArgumentException">A rule or limit is unusable; the message says which and why.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(SourceNat, nameof(SourceNat));
        ArgumentNullException.ThrowIfNull(PortForwards, nameof(PortForwards));
        foreach (var rule in SourceNat)
        {
            if (rule is null) throw new ArgumentException("A source-NAT rule is null.", nameof(SourceNat));
            if (!rule.PublicAddress.IsUnicastRoutable)
                throw new ArgumentException($"Source-NAT rule {rule}: {rule.PublicAddress} is {rule.PublicAddress.Scope}, not a unicast public address.", nameof(SourceNat));
            if (rule.Inside.Contains(rule.PublicAddress))
                throw new ArgumentException($"Source-NAT rule {rule}: the public address lies inside the network it translates.", nameof(SourceNat));
        }
        var seen = new HashSet<(NatProtocol, Ipv4Address, ushort)>();
        foreach (var rule in PortForwards)
        {
            if (rule is null) throw new ArgumentException("A port-forward rule is null.", nameof(PortForwards));
            if (rule.Protocol is not (NatProtocol.Tcp or NatProtocol.Udp))
                throw new ArgumentException($"Port forward {rule}: only TCP and UDP ports can be forwarded.", nameof(PortForwards));
            if (rule.PublicPort == 0 || rule.TargetPort == 0)
                throw new ArgumentException($"Port forward {rule}: ports must be 1–65535.", nameof(PortForwards));
            foreach (var (what, address) in new[] { ("public address", rule.PublicAddress), ("target", rule.Target), ("source address", rule.SourceAddress) })
                if (!address.IsUnicastRoutable)
                    throw new ArgumentException($"Port forward {rule}: the {what} {address} is {address.Scope}, not a unicast address.", nameof(PortForwards));
            if (!seen.Add((rule.Protocol, rule.PublicAddress, rule.PublicPort)))
                throw new ArgumentException($"Port forward {rule}: {rule.Protocol.ToString().ToLowerInvariant()} {rule.PublicAddress}:{rule.PublicPort} is forwarded more than once.", nameof(PortForwards));
        }
        foreach (var (name, value) in new[] { (nameof(TcpConnectionsPerHost), TcpConnectionsPerHost), (nameof(UdpConnectionsPerHost), UdpConnectionsPerHost),
                     (nameof(IcmpConnectionsPerHost), IcmpConnectionsPerHost) })
            if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be 0 (no limit) or more.");
    }
}
