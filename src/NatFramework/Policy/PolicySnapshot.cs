namespace NatFramework.Translation;

/// <summary>
/// A validated copy of a <see cref="NatPolicy"/> in the form the packet path reads: arrays, and the forwards in a
/// dictionary. Built once per policy; translators swap the whole snapshot, so a packet sees one policy or the other.
/// </summary>
internal sealed class PolicySnapshot
{
    private readonly SourceNatRule[] _sourceNat;
    private readonly Dictionary<(NatProtocol, uint, ushort), PortForwardRule> _forwards;
    private readonly int _tcpLimit, _udpLimit, _icmpLimit;
    private readonly HashSet<uint> _publicAddresses;
    private readonly NatMappingBehavior _tcpMapping, _udpMapping, _icmpMapping;
    private readonly NatFilteringBehavior _tcpFiltering, _udpFiltering;

    public PolicySnapshot(NatPolicy policy)
    {
        policy.Validate();
        Policy = policy;
        _sourceNat = [.. policy.SourceNat];
        _forwards = policy.PortForwards.ToDictionary(r => (r.Protocol, r.PublicAddress.Value, r.PublicPort));
        _tcpLimit = policy.TcpConnectionsPerHost;
        _udpLimit = policy.UdpConnectionsPerHost;
        _icmpLimit = policy.IcmpConnectionsPerHost;
        CreatesConnections = _sourceNat.Length > 0 || _forwards.Count > 0;
        _publicAddresses = [.. _sourceNat.Select(r => r.PublicAddress.Value), .. _forwards.Values.Select(r => r.PublicAddress.Value)];
        (_tcpMapping, _udpMapping, _icmpMapping) = (policy.TcpMapping, policy.UdpMapping, policy.IcmpMapping);
        (_tcpFiltering, _udpFiltering) = (policy.TcpFiltering, policy.UdpFiltering);
        Hairpinning = policy.Hairpinning;
        UdpInboundRefresh = policy.UdpInboundRefresh;
    }

    /// <summary>Whether inside hosts reach each other through public endpoints.</summary>
    public bool Hairpinning { get; }

    /// <summary>Whether packets from outside refresh UDP flows.</summary>
    public bool UdpInboundRefresh { get; }

    /// <summary>True when <paramref name="address"/> is a public address of a rule: a packet to it from inside is hairpinned.</summary>
    public bool IsPublicAddress(Ipv4Address address) => _publicAddresses.Contains(address.Value);

    /// <summary>True when new connections of <paramref name="protocol"/> join endpoint-independent mappings.</summary>
    public bool MapsEndpointIndependently(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcpMapping,
        NatProtocol.Udp => _udpMapping,
        _ => _icmpMapping,
    } == NatMappingBehavior.EndpointIndependent;

    /// <summary>The filtering of unsolicited <paramref name="protocol"/> packets (ICMP: always exact).</summary>
    public NatFilteringBehavior FilteringFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcpFiltering,
        NatProtocol.Udp => _udpFiltering,
        _ => NatFilteringBehavior.AddressAndPortDependent,
    };

    /// <summary>The policy this snapshot was made of.</summary>
    public NatPolicy Policy { get; }

    /// <summary>False when no rule creates anything: a miss is just a miss.</summary>
    public bool CreatesConnections { get; }

    /// <summary>The per-host limit of <paramref name="protocol"/> (0: none).</summary>
    public int HostLimitFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcpLimit,
        NatProtocol.Udp => _udpLimit,
        _ => _icmpLimit,
    };

    /// <summary>The first source-NAT rule whose inside network holds <paramref name="source"/>, or null.</summary>
    public SourceNatRule? InsideRuleFor(Ipv4Address source)
    {
        foreach (var rule in _sourceNat)
            if (rule.Inside.Contains(source)) return rule;
        return null;
    }

    /// <summary>The port forward a new flow <paramref name="key"/> arrives at, or null.</summary>
    public PortForwardRule? ForwardFor(in FlowKey key)
        => _forwards.Count > 0 && _forwards.TryGetValue((key.Protocol, key.Destination.Value, key.DestinationPort), out var rule) ? rule : null;
}
