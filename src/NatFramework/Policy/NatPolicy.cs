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
/// The per-host limits apply to every source-NAT connection the translator creates, <c>AddNat</c>'s included; the
/// mapping behaviour to <c>AddNat</c> with the translator's own port allocator (a caller's allocator decides its ports).
/// </remarks>
public sealed record NatPolicy
{
    /// <summary>
    /// mirage-nat's model: no rules and no limits (translators only look up; connections come from <c>AddNat</c> and
    /// <c>AddRedirect</c>), address-and-port-dependent mapping and filtering, no hairpinning, traffic either way keeping a
    /// connection alive. The translator's default. A
    /// policy made with <c>new NatPolicy { … }</c> starts from RFC 4787's recommendations instead (endpoint-independent
    /// mapping, address-dependent filtering, hairpinning, UDP kept alive by outbound packets).
    /// </summary>
    public static NatPolicy None { get; } = new()
    {
        UdpMapping = NatMappingBehavior.AddressAndPortDependent,
        TcpMapping = NatMappingBehavior.AddressAndPortDependent,
        IcmpMapping = NatMappingBehavior.AddressAndPortDependent,
        UdpFiltering = NatFilteringBehavior.AddressAndPortDependent,
        TcpFiltering = NatFilteringBehavior.AddressAndPortDependent,
        Hairpinning = false,
        UdpInboundRefresh = true,
    };

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

    /// <summary>How UDP flows are mapped (default <see cref="NatMappingBehavior.EndpointIndependent"/>, RFC 4787 REQ-1).</summary>
    public NatMappingBehavior UdpMapping { get; init; } = NatMappingBehavior.EndpointIndependent;

    /// <summary>How TCP connections are mapped (default <see cref="NatMappingBehavior.EndpointIndependent"/>, RFC 5382 REQ-1).</summary>
    public NatMappingBehavior TcpMapping { get; init; } = NatMappingBehavior.EndpointIndependent;

    /// <summary>How ICMP query identifiers are mapped (default <see cref="NatMappingBehavior.EndpointIndependent"/>, RFC 5508 REQ-1).</summary>
    public NatMappingBehavior IcmpMapping { get; init; } = NatMappingBehavior.EndpointIndependent;

    /// <summary>
    /// Which unsolicited UDP packets reach an endpoint-independent mapping (default
    /// <see cref="NatFilteringBehavior.AddressDependent"/>, RFC 4787 REQ-8). Anything but address-and-port-dependent
    /// filtering needs endpoint-independent UDP mapping.
    /// </summary>
    public NatFilteringBehavior UdpFiltering { get; init; } = NatFilteringBehavior.AddressDependent;

    /// <summary>
    /// Which unsolicited TCP segments (a SYN of a simultaneous open, say) reach an endpoint-independent mapping (default
    /// <see cref="NatFilteringBehavior.AddressDependent"/>, RFC 5382 REQ-3). Anything but address-and-port-dependent
    /// filtering needs endpoint-independent TCP mapping. ICMP replies are matched to their query exactly.
    /// </summary>
    public NatFilteringBehavior TcpFiltering { get; init; } = NatFilteringBehavior.AddressDependent;

    /// <summary>
    /// An inside host sending to the public endpoint of another inside host's mapping (or to a port forward) reaches it,
    /// with its own public endpoint as the source (RFC 4787 REQ-9, RFC 5382 REQ-8). On by default.
    /// </summary>
    public bool Hairpinning { get; init; } = true;

    /// <summary>
    /// Whether packets from outside keep a UDP flow alive (RFC 4787 REQ-6: outbound packets always do; inbound refresh is
    /// the NAT's choice). Off by default, so that a flow an inside host stopped using goes even while the far end sends.
    /// TCP connections and ICMP queries are kept alive by both directions.
    /// </summary>
    public bool UdpInboundRefresh { get; init; }

    /// <summary>The mapping behaviour of <paramref name="protocol"/>.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The mapping behaviour.</returns>
    public NatMappingBehavior MappingFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => TcpMapping,
        NatProtocol.Udp => UdpMapping,
        _ => IcmpMapping,
    };

    /// <summary>The filtering behaviour of <paramref name="protocol"/> (ICMP: always exact).</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The filtering behaviour.</returns>
    public NatFilteringBehavior FilteringFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => TcpFiltering,
        NatProtocol.Udp => UdpFiltering,
        _ => NatFilteringBehavior.AddressAndPortDependent,
    };

    /// <summary>The per-host limit of <paramref name="protocol"/> (0: none).</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The limit; 0 for none.</returns>
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
        foreach (var (name, mapping, filtering) in new[] { (nameof(UdpFiltering), UdpMapping, UdpFiltering), (nameof(TcpFiltering), TcpMapping, TcpFiltering) })
        {
            if (!Enum.IsDefined(mapping)) throw new ArgumentOutOfRangeException(name.Replace("Filtering", "Mapping"), mapping, "Not a mapping behaviour.");
            if (!Enum.IsDefined(filtering)) throw new ArgumentOutOfRangeException(name, filtering, "Not a filtering behaviour.");
            if (filtering != NatFilteringBehavior.AddressAndPortDependent && mapping != NatMappingBehavior.EndpointIndependent)
                throw new ArgumentException($"{name} {filtering} lets packets in to endpoint-independent mappings, but {name.Replace("Filtering", "Mapping")} is {mapping}: " +
                    "use endpoint-independent mapping, or address-and-port-dependent filtering.", name);
        }
        if (!Enum.IsDefined(IcmpMapping)) throw new ArgumentOutOfRangeException(nameof(IcmpMapping), IcmpMapping, "Not a mapping behaviour.");
        foreach (var (name, value) in new[] { (nameof(TcpConnectionsPerHost), TcpConnectionsPerHost), (nameof(UdpConnectionsPerHost), UdpConnectionsPerHost),
                     (nameof(IcmpConnectionsPerHost), IcmpConnectionsPerHost) })
            if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be 0 (no limit) or more.");
    }
}
