using System.ComponentModel;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework.Translation;

/// <summary>
/// A connection about to be created — by <c>AddNat</c>/<c>AddRedirect</c>, or by the policy for a packet of a new flow —
/// or the reason it cannot be: the checked flow, how to make candidate connections (with the port allocator that goes
/// beside it), and how to read the store's answers.
/// </summary>
/// <remarks>
/// Plain data, no references: the JIT zeroes every stack copy of a struct that holds one on entry to the method, and the
/// creation path, with its inlined copies of the plan, zeroed 1.3 KB per new flow while the allocator was kept here.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
[StructLayout(LayoutKind.Auto)]
public readonly struct AddPlan
{
    // An early result is always CannotNat, so only its reason and error are kept: a whole NatAddResult here doubled the
    // plan's size, and every AddNat zeroed and copied it.
    private readonly CannotNatReason _cannotNatReason;
    private readonly PacketError _cannotNatError;
    private readonly bool _portAsked;       // the caller chose the allocator: its port is part of what was asked for
    private readonly bool _takesExisting;   // made by the policy: a live connection of the flow serves, whatever its port
    private readonly ushort _fixedPort;     // the one public port to try (a mapping's), or 0 for the allocator's candidates

    internal AddPlan(CannotNatReason cannotNat, PacketError error, in FlowKey outbound, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort,
        bool redirect, NatConnectionFlags initialFlags, bool portAsked, bool takesExisting, long now, in NatInsertRules rules,
        bool translatesDestination = false, ushort fixedPort = 0)
    {
        _cannotNatReason = cannotNat;
        _cannotNatError = error;
        Outbound = outbound;
        PublicAddress = publicAddress;
        Target = target;
        TargetPort = targetPort;
        IsRedirect = redirect;
        TranslatesDestination = redirect || translatesDestination;
        InitialFlags = initialFlags;
        _portAsked = portAsked;
        _takesExisting = takesExisting;
        _fixedPort = fixedPort;
        Now = now;
        Rules = rules;
    }

    /// <summary>A plan decided without the store (CannotNat).</summary>
    internal static AddPlan Refused(CannotNatReason reason, PacketError error = PacketError.None)
        => new(reason, error, default, default, default, 0, false, NatConnectionFlags.None, false, false, 0, default);

    /// <summary>True when the add was decided without the store (CannotNat).</summary>
    public bool IsDone => _cannotNatReason != CannotNatReason.None;

    /// <summary>The result when <see cref="IsDone"/>.</summary>
    public NatAddResult Early => NatAddResult.CannotNat(_cannotNatReason, _cannotNatError);

    /// <summary>The new connection's outbound flow (the inside endpoint's side).</summary>
    public FlowKey Outbound { get; }

    /// <summary>The translated source address (NAT, hairpin) or the redirect's source address.</summary>
    public Ipv4Address PublicAddress { get; }

    /// <summary>The new destination, when <see cref="TranslatesDestination"/>: a redirect's target, or the inside endpoint a hairpinned flow reaches.</summary>
    public Ipv4Address Target { get; }

    /// <summary>The new destination port (see <see cref="Target"/>).</summary>
    public ushort TargetPort { get; }

    /// <summary>True for Redirect.</summary>
    public bool IsRedirect { get; }

    /// <summary>True when the destination is rewritten too: a redirect, or a hairpinned flow.</summary>
    public bool TranslatesDestination { get; }

    /// <summary>The new connection's flags: its kind, its mapping and, for TCP, the state its first packet opens.</summary>
    public NatConnectionFlags InitialFlags { get; }

    /// <summary>True when the new connection joins its inside endpoint's endpoint-independent mapping.</summary>
    public bool IsMapped => (InitialFlags & NatConnectionFlags.EndpointMapped) != 0;

    /// <summary>The time of the add.</summary>
    public long Now { get; }

    /// <summary>What the insert must respect: expiry cutoffs and the inside host's limit.</summary>
    public NatInsertRules Rules { get; }

    /// <summary>
    /// The same plan on the public endpoint of an existing mapping (the store's <see cref="NatInsertStatus.MappingConflict"/>):
    /// that endpoint is the one candidate left.
    /// </summary>
    /// <param name="existing">A connection of the inside endpoint's mapping.</param>
    /// <returns>The plan with that public address and port.</returns>
    internal AddPlan OnMappingOf(in NatConnection existing)
        => new(_cannotNatReason, _cannotNatError, Outbound, existing.Translated.Source, Target, TargetPort, IsRedirect, InitialFlags, _portAsked, _takesExisting,
            Now, Rules, TranslatesDestination, fixedPort: existing.Translated.SourcePort);

    /// <summary>The same plan with <paramref name="target"/>:<paramref name="targetPort"/> as the new destination (a hairpinned flow's inside endpoint).</summary>
    internal AddPlan To(Ipv4Address target, ushort targetPort)
        => new(_cannotNatReason, _cannotNatError, Outbound, PublicAddress, target, targetPort, IsRedirect, InitialFlags, _portAsked, _takesExisting,
            Now, Rules, translatesDestination: true, _fixedPort);

    /// <summary>
    /// The connection a packet from outside opens on a mapping: from the mapping's inside endpoint to the packet's source
    /// (this plan's outbound flow, whose source is the public endpoint so far), through the mapping's public endpoint.
    /// </summary>
    internal AddPlan Inbound(Ipv4Address insideAddress, ushort insidePort, Ipv4Address publicAddress, ushort publicPort)
        => new(_cannotNatReason, _cannotNatError, Outbound.WithSource(insideAddress, insidePort), publicAddress, default, 0, IsRedirect, InitialFlags,
            _portAsked, _takesExisting, Now, Rules, translatesDestination: false, fixedPort: publicPort);

    /// <summary>The candidate connection of attempt <paramref name="attempt"/>; false when the allocator has none.</summary>
    /// <param name="ports">The allocator the plan was made for.</param>
    /// <param name="attempt">0, 1, …</param>
    /// <param name="connection">The candidate.</param>
    /// <returns>False when the allocator has no more candidates.</returns>
    public bool TryCandidate(IPortAllocator ports, int attempt, out NatConnection connection) => TryCandidate(ports, PortClass.Any, attempt, out connection);

    /// <summary>The candidate connection of attempt <paramref name="attempt"/> with a port of <paramref name="portClass"/>; false when the allocator has none.</summary>
    /// <param name="ports">The allocator the plan was made for.</param>
    /// <param name="portClass">The ports the store accepts for this connection (<see cref="INatPortClasses"/>).</param>
    /// <param name="attempt">0, 1, …</param>
    /// <param name="connection">The candidate.</param>
    /// <returns>False when the allocator has no more candidates.</returns>
    public bool TryCandidate(IPortAllocator ports, PortClass portClass, int attempt, out NatConnection connection)
    {
        ushort port = _fixedPort;
        if (port != 0 ? attempt > 0
            : portClass.IsAny ? !ports.TryGetCandidate(Outbound, attempt, out port) : !ports.TryGetCandidate(Outbound, attempt, portClass, out port))
        {
            connection = default;
            return false;
        }
        var translated = TranslatesDestination
            ? new FlowKey(Outbound.Protocol, PublicAddress, port, Target, TargetPort)
            : Outbound.WithSource(PublicAddress, port);
        connection = new NatConnection(Outbound, translated, Now, InitialFlags);
        return true;
    }

    /// <summary>
    /// Turns a store's insert answer into a result, or null to try the next port. The flow already held by a live
    /// connection is <see cref="NatAddStatus.Ok"/> when that connection is what was asked for — the same kind, public
    /// address, redirect target and, when the caller chose the allocator, the same port (mirage-nat: re-adding is
    /// idempotent, even when two threads race to add one flow) — and <see cref="NatAddStatus.Overlap"/> with the existing
    /// connection otherwise. A connection the policy creates takes any live connection of its flow.
    /// </summary>
    /// <param name="status">The store's answer.</param>
    /// <param name="candidate">The connection tried.</param>
    /// <param name="existing">For <see cref="NatInsertStatus.OutboundTaken"/>, the holder of the flow.</param>
    /// <returns>The result, or null to try another port.</returns>
    public NatAddResult? Complete(NatInsertStatus status, in NatConnection candidate, in NatLookup existing) => status switch
    {
        NatInsertStatus.Inserted => new NatAddResult(NatAddStatus.Ok, candidate),
        NatInsertStatus.OutboundTaken => _takesExisting || IsSameMapping(existing, candidate)
            ? new NatAddResult(NatAddStatus.Ok, existing.Connection)
            : new NatAddResult(NatAddStatus.Overlap, existing.Connection),
        NatInsertStatus.TableFull => new NatAddResult(NatAddStatus.TableFull),
        NatInsertStatus.HostLimitReached => NatAddResult.CannotNat(CannotNatReason.QuotaExceeded),
        _ => null,
    };

    /// <summary>The result when every attempt found the reply key taken.</summary>
    public NatAddResult Exhausted => new(NatAddStatus.Overlap);

    private bool IsSameMapping(in NatLookup existing, in NatConnection candidate)
    {
        var c = existing.Connection;
        if (existing.Direction != FlowDirection.Outbound || c.IsRedirect != IsRedirect) return false;
        if (c.Translated.Source != PublicAddress) return false;
        if (_portAsked && c.AllocatedPort != candidate.AllocatedPort) return false;
        return !IsRedirect || IsSameTarget(c);
    }

    private bool IsSameTarget(in NatConnection c) => c.Translated.Destination == Target && c.Translated.DestinationPort == TargetPort;
}
