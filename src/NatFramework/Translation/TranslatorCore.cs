using System.ComponentModel;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace NatFramework.Translation;

/// <summary>
/// Everything a translator does, written once for every store: translation (lookup, TCP state, lookup-or-create by the
/// policy), adds, removal by host, port queries. A generated translator holds one and hands each call a struct of its
/// store's calls (<see cref="ISyncStoreCalls"/> or <see cref="IAsyncStoreCalls"/>); the generic methods are compiled per
/// store, so those calls are direct. Public only for generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed partial class TranslatorCore
{
    private readonly NatClock _clock;
    private readonly long _tcpTimeout, _tcpTransitoryTimeout, _udpTimeout, _icmpTimeout;
    private readonly long _tcpRefresh, _tcpTransitoryRefresh, _udpRefresh, _icmpRefresh;
    private readonly bool _storeExpires;
    private readonly bool _translatorExpires; // expiry on and left to the translator's cutoffs (one field for the packet path)
    private volatile PolicySnapshot _policy;

    /// <summary>Creates the core from options (validated and copied) and a time source.</summary>
    /// <param name="options">The translator's settings (defaults when null).</param>
    /// <param name="timeProvider">The clock (the system clock when null).</param>
    /// <param name="storeExpiresNatively">True when the store expires connections itself (<see cref="INatNativeExpiry"/>).</param>
    /// <param name="logger">Where the translator logs (nothing when null).</param>
    /// <param name="storeName">The store's type name, for log messages and metric tags.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public TranslatorCore(NatOptions? options, TimeProvider? timeProvider, bool storeExpiresNatively, ILogger? logger = null, string storeName = "store")
    {
        _logger = logger is null || !logger.IsEnabled(LogLevel.Critical) ? null : logger;
        _storeName = storeName;
        Options = (options ?? new NatOptions()).Clone();
        Options.Validate();
        _clock = new NatClock(timeProvider);
        Ports = PortAllocator.FromOptions(Options);
        _policy = new PolicySnapshot(Options.Policy);
        _storeExpires = storeExpiresNatively;
        _translatorExpires = Options.ExpiryEnabled && !storeExpiresNatively;
        _tcpTimeout = Ms(Options.TcpTimeout);
        _tcpTransitoryTimeout = Ms(Options.TcpTransitoryTimeout);
        _udpTimeout = Ms(Options.UdpTimeout);
        _icmpTimeout = Ms(Options.IcmpTimeout);
        _tcpRefresh = _tcpTimeout / Options.RefreshDivisor;
        _tcpTransitoryRefresh = _tcpTransitoryTimeout / Options.RefreshDivisor;
        _udpRefresh = _udpTimeout / Options.RefreshDivisor;
        _icmpRefresh = _icmpTimeout / Options.RefreshDivisor;
        LogCreated();
    }

    private static long Ms(TimeSpan value) => (long)value.TotalMilliseconds;

    /// <summary>The validated options.</summary>
    public NatOptions Options { get; }

    /// <summary>The default port allocator built from the options.</summary>
    public IPortAllocator Ports { get; }

    /// <summary>
    /// The policy new flows are judged by. Setting it validates it and takes effect for the next packet; packets being
    /// translated meanwhile finish under the policy they started with.
    /// </summary>
    /// <exception cref="ArgumentException">The new policy has an unusable rule or limit.</exception>
    public NatPolicy Policy
    {
        get => _policy.Policy;
        set
        {
            _policy = new PolicySnapshot(value ?? throw new ArgumentNullException(nameof(value)));
            Volatile.Write(ref _recentCutoffsAt, long.MinValue); // they carry the policy's inbound refresh
            LogPolicyReplaced(value);
        }
    }

    /// <summary>The timeouts a store with native expiry should apply (null when expiry is disabled).</summary>
    public NatTimeouts? NativeExpiryTimeouts => Options.ExpiryEnabled ? Options.Timeouts : null;

    /// <summary>Now, in the clock's milliseconds.</summary>
    public long Now
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _clock.NowMilliseconds;
    }

    /// <summary>The expiry cutoffs at <paramref name="now"/> (never, when the store expires by itself or expiry is off).</summary>
    /// <param name="now">The time, in the translator clock's milliseconds.</param>
    /// <returns>The cutoffs (never, when the store expires by itself or expiry is off).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ExpiryCutoffs Cutoffs(long now) => _translatorExpires
        ? new(now - _tcpTimeout, now - _tcpTransitoryTimeout, now - _udpTimeout, now - _icmpTimeout) { UdpRepliesRefresh = _policy.UdpInboundRefresh }
        : ExpiryCutoffs.Never;

    // The cutoffs of the last millisecond a packet was translated in, so that a packet passes the store a reference to
    // them instead of building four of them on its stack. Threads refresh it racily: a reader may get cutoffs of a
    // later millisecond than its own clock reading, which moves expiry by that millisecond, never by more.
    private ExpiryCutoffs _recentCutoffs = ExpiryCutoffs.Never;
    private long _recentCutoffsAt = long.MinValue;

    /// <summary>The expiry cutoffs at <paramref name="now"/>, as <see cref="Cutoffs"/>, without building them per packet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref readonly ExpiryCutoffs RecentCutoffs(long now)
    {
        if (now != Volatile.Read(ref _recentCutoffsAt)) RefreshRecentCutoffs(now);
        return ref _recentCutoffs;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RefreshRecentCutoffs(long now)
    {
        _recentCutoffs = Cutoffs(now);
        Volatile.Write(ref _recentCutoffsAt, now);
    }

    /// <summary>True when the connection's last-seen time is older than its refresh interval (by protocol and TCP state), so a Touch is due.</summary>
    /// <param name="connection">The connection a packet matched.</param>
    /// <param name="now">The time, in the translator clock's milliseconds.</param>
    /// <returns>True when a refresh of the connection's last-seen time is due.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool NeedsTouch(in NatConnection connection, long now)
        => now - connection.LastSeen >= (connection.IsTransitory ? _tcpTransitoryRefresh
            : connection.Protocol switch { NatProtocol.Tcp => _tcpRefresh, NatProtocol.Udp => _udpRefresh, _ => _icmpRefresh });

    /// <summary>
    /// True when a packet that matched <paramref name="lookup"/> is due to refresh its connection: <see cref="NeedsTouch(in NatConnection, long)"/>,
    /// unless it is a UDP packet from outside and the policy lets only outbound packets refresh UDP (RFC 4787 REQ-6).
    /// </summary>
    /// <param name="lookup">The lookup a packet matched.</param>
    /// <param name="now">The time, in the translator clock's milliseconds.</param>
    /// <returns>True when a refresh of the connection's last-seen time is due.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool NeedsTouch(in NatLookup lookup, long now)
        => NeedsTouch(lookup.Connection, now)
            && (lookup.Direction == FlowDirection.Outbound || lookup.Connection.Protocol != NatProtocol.Udp || _policy.UdpInboundRefresh);

    /// <summary>What a store's insert must respect for a new <paramref name="protocol"/> connection at <paramref name="now"/>.</summary>
    /// <remarks>Per-host limits apply to source NAT only: a port forward's connections take no port of the public address,
    /// and a limit on them would let outside clients use up the quota of the server they reach.</remarks>
    private NatInsertRules InsertRules(NatProtocol protocol, bool redirect, long now) => new(Cutoffs(now), redirect ? 0 : _policy.HostLimitFor(protocol));

    /// <summary>The key IsPortFree asks about.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="source">The flow's source address.</param>
    /// <param name="destination">The flow's destination address.</param>
    /// <param name="sourcePort">The source port (ICMP: the identifier).</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <returns>The flow key.</returns>
    public static FlowKey PortQueryKey(NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort)
        => protocol == NatProtocol.Icmp ? FlowKey.Icmp(source, destination, sourcePort) : new FlowKey(protocol, source, sourcePort, destination, destinationPort);

    // A compare-and-set of a TCP state loses only to another change of the same connection in the same instant; after
    // this many losses in a row the packet goes on and the state stays as the others left it.
    private const int StateUpdateAttempts = 8;

    private static NatTranslateResult NoConnection => NatTranslateResult.Untranslated(UntranslatedReason.NoConnection);
}
