namespace NatFramework;

/// <summary>Settings of a translator (and defaults stores may size themselves from). Call <see cref="Validate"/> or let the translator do it.</summary>
public sealed class NatOptions
{
    /// <summary>
    /// The public address of <c>AddNat(packet)</c> and <c>AddRedirect(packet, target, port)</c>
    /// (<see cref="NatTranslatorExtensions"/>), the operations that take none. <c>0.0.0.0</c>, the default, means "not
    /// set". Translators registered with <c>services.AddNat</c> refuse to start with neither this nor a policy rule: they
    /// could never translate a packet.
    /// </summary>
    public Ipv4Address PublicAddress { get; set; }

    /// <summary>The first port (and ICMP identifier) the allocator hands out (default 1024).</summary>
    public int PortRangeStart { get; set; } = 1024;

    /// <summary>The last port (and ICMP identifier) the allocator hands out (default 65535).</summary>
    public int PortRangeEnd { get; set; } = 65535;

    /// <summary>
    /// Try the source port first when it is free and in range (port preservation, RFC 4787 §4.2.1). Off by default:
    /// preserved ports are as predictable as the inside hosts' own (sequential source ports give sequential public
    /// ports), which RFC 6056 warns against; the default draws every port from a cryptographic random source.
    /// </summary>
    public bool PreservePorts { get; set; }

    /// <summary>How many ports an add tries before giving up with Overlap (mirage-nat: 100).</summary>
    public int AddAttempts { get; set; } = 100;

    /// <summary>Expire idle connections. False gives mirage-nat's behaviour: connections live until evicted or removed.</summary>
    public bool ExpiryEnabled { get; set; } = true;

    /// <summary>UDP idle timeout; RFC 4787 REQ-5 requires at least 2 minutes and recommends 5 (default 300 s).</summary>
    public TimeSpan UdpTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>TCP established idle timeout; RFC 5382 REQ-5 requires at least 2 h 4 min (default 7440 s).</summary>
    public TimeSpan TcpTimeout { get; set; } = TimeSpan.FromSeconds(7440);

    /// <summary>
    /// TCP transitory idle timeout: before the handshake completes, after FINs in both directions, after a RST (RFC 5382
    /// REQ-5 requires at least 4 min; default 240 s). At most <see cref="TcpTimeout"/>.
    /// </summary>
    public TimeSpan TcpTransitoryTimeout { get; set; } = TimeSpan.FromSeconds(240);

    /// <summary>ICMP query idle timeout; RFC 5508 REQ-2 requires at least 60 s (default 60 s).</summary>
    public TimeSpan IcmpTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A connection's last-seen time is written at most once per <c>timeout / RefreshDivisor</c>, so traffic keeps it
    /// alive without a store write per packet (default 10: a UDP flow is refreshed at most every 30 s).
    /// </summary>
    public int RefreshDivisor { get; set; } = 10;

    /// <summary>TCP connections a bounded store should hold (default <see cref="NatDefaults.TcpCapacity"/>, 65,536).</summary>
    public int TcpCapacity { get; set; } = NatDefaults.TcpCapacity;

    /// <summary>UDP connections a bounded store should hold (default <see cref="NatDefaults.UdpCapacity"/>, 65,536).</summary>
    public int UdpCapacity { get; set; } = NatDefaults.UdpCapacity;

    /// <summary>ICMP query connections a bounded store should hold (default <see cref="NatDefaults.IcmpCapacity"/>, 4,096).</summary>
    public int IcmpCapacity { get; set; } = NatDefaults.IcmpCapacity;

    /// <summary>
    /// What a translator does with a packet no connection has: create one by the rules (source NAT, port forwards) and
    /// with the limits of the policy, or — <see cref="NatPolicy.None"/>, the default — nothing, leaving it to
    /// <c>AddNat</c>/<c>AddRedirect</c> as in mirage-nat. Replaceable at run time through the translator's <c>Policy</c>.
    /// </summary>
    public NatPolicy Policy { get; set; } = NatPolicy.None;

    /// <summary>The timeouts as one value.</summary>
    public NatTimeouts Timeouts => new(TcpTimeout, UdpTimeout, IcmpTimeout, TcpTransitoryTimeout);

    /// <summary>The configured capacity for <paramref name="protocol"/>.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The capacity.</returns>
    public int CapacityFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => TcpCapacity,
        NatProtocol.Udp => UdpCapacity,
        _ => IcmpCapacity,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting to fix when a setting is out of range.</summary>
    /// <exception cref="ArgumentException">A setting (or a rule of the policy) is out of range; the message names it.</exception>
    public void Validate()
    {
        if (PortRangeStart is < 1 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(PortRangeStart), PortRangeStart, "PortRangeStart must be 1–65535 (port 0 is not a valid source port).");
        if (PortRangeEnd is < 1 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(PortRangeEnd), PortRangeEnd, "PortRangeEnd must be 1–65535.");
        if (PortRangeEnd < PortRangeStart)
            throw new ArgumentException($"PortRangeEnd ({PortRangeEnd}) is below PortRangeStart ({PortRangeStart}); swap them.", nameof(PortRangeEnd));
        if (AddAttempts < 1)
            throw new ArgumentOutOfRangeException(nameof(AddAttempts), AddAttempts, "AddAttempts must be at least 1.");
        CheckTimeout(UdpTimeout, nameof(UdpTimeout));
        CheckTimeout(TcpTimeout, nameof(TcpTimeout));
        CheckTimeout(IcmpTimeout, nameof(IcmpTimeout));
        CheckTimeout(TcpTransitoryTimeout, nameof(TcpTransitoryTimeout));
        if (TcpTransitoryTimeout > TcpTimeout)
            throw new ArgumentOutOfRangeException(nameof(TcpTransitoryTimeout), TcpTransitoryTimeout, $"TcpTransitoryTimeout ({TcpTransitoryTimeout}) must not exceed TcpTimeout ({TcpTimeout}).");
        if (RefreshDivisor < 1)
            throw new ArgumentOutOfRangeException(nameof(RefreshDivisor), RefreshDivisor, "RefreshDivisor must be at least 1 (1 refreshes once per timeout).");
        CheckCapacity(TcpCapacity, nameof(TcpCapacity));
        CheckCapacity(UdpCapacity, nameof(UdpCapacity));
        CheckCapacity(IcmpCapacity, nameof(IcmpCapacity));
        if (PublicAddress != Ipv4Address.Any && !PublicAddress.IsUnicastRoutable)
            throw new ArgumentException($"PublicAddress {PublicAddress} is {PublicAddress.Scope}; a NAT's public address must be unicast.", nameof(PublicAddress));
        ArgumentNullException.ThrowIfNull(Policy, nameof(Policy));
        Policy.Validate();
    }

    private static void CheckTimeout(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(7))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most 7 days; to disable expiry set ExpiryEnabled = false.");
    }

    private static void CheckCapacity(int value, string name)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }

    /// <summary>A copy (so a translator's settings cannot change under it).</summary>
    /// <returns>An independent copy.</returns>
    public NatOptions Clone() => (NatOptions)MemberwiseClone();
}
