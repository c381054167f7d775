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
    }

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
