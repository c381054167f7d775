using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework.Translation;

// Creating and removing connections: the policy's decision for a new flow, AddNat / AddRedirect, the insert loop over
// port candidates, removal by host, port queries and reset — each for synchronous and asynchronous stores.
public sealed partial class TranslatorCore
{
    // ---- deciding ----------------------------------------------------------------------------------------------

    /// <summary>
    /// What the policy creates for a packet of the new flow <paramref name="key"/> that arrived on <paramref name="side"/>:
    /// a NAT connection when its source is in an inside network of a source-NAT rule, a Redirect when it arrives at a
    /// port forward, or nothing, with the reason in <paramref name="refused"/>.
    /// </summary>
    private AddPlan PlanCreate(in FlowKey key, byte tcpFlags, NatSide side, long now, out UntranslatedReason refused)
    {
        var policy = _policy;
        refused = UntranslatedReason.None;
        var flags = NatConnectionFlags.None;
        if (key.Protocol == NatProtocol.Tcp && !TcpStateTracker.TryOpen(tcpFlags, out flags))
        {
            refused = UntranslatedReason.NoConnection; // a RST opens nothing
            return default;
        }
        if (policy.InsideRuleFor(key.Source) is { } inside)
        {
            if (side == NatSide.Outside)
            {
                refused = UntranslatedReason.SpoofedSource;
                return default;
            }
            if (!key.Destination.IsUnicastRoutable || !key.Source.IsUnicastRoutable)
            {
                refused = UntranslatedReason.NotUnicast;
                return default;
            }
            return new AddPlan(CannotNatReason.None, PacketError.None, key, inside.PublicAddress, default, 0, redirect: false, flags,
                portAsked: false, takesExisting: true, now, InsertRules(key.Protocol, redirect: false, now));
        }
        if (side == NatSide.Inside)
        {
            refused = UntranslatedReason.NotFromInsideNetwork;
            return default;
        }
        if (policy.ForwardFor(key) is { } forward)
        {
            if (!key.Source.IsUnicastRoutable)
            {
                refused = UntranslatedReason.NotUnicast;
                return default;
            }
            return new AddPlan(CannotNatReason.None, PacketError.None, key, forward.SourceAddress, forward.Target, forward.TargetPort, redirect: true,
                flags | NatConnectionFlags.Redirect, portAsked: false, takesExisting: true, now, InsertRules(key.Protocol, redirect: true, now));
        }
        refused = UntranslatedReason.NoConnection;
        return default;
    }

    /// <summary>The translation result of a failed creation.</summary>
    private static NatTranslateResult Refused(in NatAddResult result) => NatTranslateResult.Untranslated(result.Status switch
    {
        NatAddStatus.TableFull => UntranslatedReason.TableFull,
        NatAddStatus.CannotNat when result.Reason == CannotNatReason.QuotaExceeded => UntranslatedReason.QuotaExceeded,
        NatAddStatus.CannotNat => UntranslatedReason.NotUnicast,
        _ => UntranslatedReason.NoFreePort,
    });

    /// <summary>The connection a creation ended with, as the lookup of <paramref name="key"/> would have found it.</summary>
    private static NatLookup AsLookup(in NatConnection connection, in FlowKey key)
        => new(connection, connection.OutboundKey.Equals(key) ? FlowDirection.Outbound : FlowDirection.Reply);

    /// <summary>Checks a packet for AddNat / AddRedirect and prepares the attempts.</summary>
    private AddPlan PlanAdd(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        // Parsing only reads; the span is writable solely because the packet view type is shared with rewriting.
        var writable = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(packet), packet.Length);
        // A whole, valid TCP or UDP datagram leaves only the address checks; the full parse (and the order in which it
        // reports problems) is kept out of line for everything else.
        if (!CommonFlow.TryRead(writable, out var outbound)) return PlanAddOther(writable, publicAddress, redirect, target, targetPort, ports);
        if (!IsValidPublicAddress(publicAddress)) return AddPlan.Refused(CannotNatReason.InvalidPublicAddress);
        if (redirect && targetPort == 0) return AddPlan.Refused(CannotNatReason.InvalidTargetPort);
        if (!AreUnicast(outbound, redirect, target)) return AddPlan.Refused(CannotNatReason.NotUnicast);
        byte tcpFlags = outbound.Protocol == NatProtocol.Tcp ? packet[Ipv4Packet.MinHeaderLength + TcpHeader.FlagsOffset] : (byte)0;
        return Ready(outbound, tcpFlags, publicAddress, redirect, target, targetPort, ports);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private AddPlan PlanAddOther(Span<byte> packet, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        var error = Ipv4Packet.TryParse(packet, out var ip);
        if (error != PacketError.None) return AddPlan.Refused(CannotNatReason.Malformed, error);
        if (ip.IsFragment) return AddPlan.Refused(CannotNatReason.Fragment);
        if (!IsValidPublicAddress(publicAddress)) return AddPlan.Refused(CannotNatReason.InvalidPublicAddress);
        if (!ip.Source.IsUnicastRoutable || !ip.Destination.IsUnicastRoutable || (redirect && !target.IsUnicastRoutable))
            return AddPlan.Refused(CannotNatReason.NotUnicast);
        if (ip.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Icmp))
            return AddPlan.Refused(CannotNatReason.UnsupportedProtocol);
        if (!FlowKey.TryRead(ip, out var outbound)) return AddPlan.Refused(CannotNatReason.IcmpNotQuery);
        if (redirect && outbound.Protocol == NatProtocol.Icmp) return AddPlan.Refused(CannotNatReason.IcmpRedirect);
        if (redirect && targetPort == 0) return AddPlan.Refused(CannotNatReason.InvalidTargetPort);
        byte tcpFlags = ip.Protocol == IpProtocol.Tcp ? ip.Payload[TcpHeader.FlagsOffset] : (byte)0;
        return Ready(outbound, tcpFlags, publicAddress, redirect, target, targetPort, ports);
    }

    private static bool IsValidPublicAddress(Ipv4Address publicAddress) => publicAddress != Ipv4Address.Any && publicAddress.IsUnicastRoutable;

    private static bool AreUnicast(in FlowKey outbound, bool redirect, Ipv4Address target)
        => outbound.Source.IsUnicastRoutable && outbound.Destination.IsUnicastRoutable && (!redirect || target.IsUnicastRoutable);

    private AddPlan Ready(in FlowKey outbound, byte tcpFlags, Ipv4Address publicAddress, bool redirect, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
    {
        long now = Now;
        var flags = redirect ? NatConnectionFlags.Redirect : NatConnectionFlags.None;
        if (outbound.Protocol == NatProtocol.Tcp)
        {
            // An explicit add of a RST's flow still adds (mirage-nat's model); it starts reset, so it is transitory.
            flags |= TcpStateTracker.TryOpen(tcpFlags, out var state) ? state : TcpStateTracker.Next(NatConnectionFlags.None, FlowDirection.Outbound, tcpFlags);
        }
        return new AddPlan(CannotNatReason.None, PacketError.None, outbound, publicAddress, target, targetPort, redirect, flags,
            portAsked: ports is not null, takesExisting: false, now, InsertRules(outbound.Protocol, redirect, now));
    }

    // ---- synchronous stores ------------------------------------------------------------------------------------

    /// <summary>Tries the plan's port candidates until the store takes one or answers for good.</summary>
    private NatAddResult Insert<TCalls>(TCalls calls, in AddPlan plan, IPortAllocator ports, out bool inserted) where TCalls : struct, ISyncStoreCalls
    {
        inserted = false;
        for (int attempt = 0; attempt < Options.AddAttempts && plan.TryCandidate(ports, attempt, out var candidate); attempt++)
        {
            var status = calls.TryInsert(candidate, plan.Rules, out var existing);
            // The usual answer first, without the nullable result of Complete (two copies of a connection).
            if (status == NatInsertStatus.Inserted)
            {
                inserted = true;
                return new NatAddResult(NatAddStatus.Ok, candidate);
            }
            if (plan.Complete(status, candidate, existing) is { } done)
            {
                // Re-adding a live connection counts as traffic on it.
                if (status == NatInsertStatus.OutboundTaken && done.IsOk) calls.Touch(plan.Outbound, plan.Now);
                return done;
            }
        }
        return plan.Exhausted;
    }

    /// <summary>Creates the connection of a new flow's packet by the policy, then translates the packet through it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private NatTranslateResult Create<TCalls>(TCalls calls, Span<byte> packet, in PacketPlan plan, NatSide side, long now) where TCalls : struct, ISyncStoreCalls
    {
        var add = PlanCreate(plan.LookupKey, plan.TcpFlags, side, now, out var refused);
        if (refused != UntranslatedReason.None) return NatTranslateResult.Untranslated(refused);
        // A packet that will not be forwarded (TTL 1: a traceroute probe) is answered without opening anything.
        if (PacketPlanner.TtlExpires(packet)) return NatTranslateResult.TtlExceeded;
        var result = Insert(calls, add, Ports, out bool inserted);
        if (!result.IsOk) return Refused(result);
        var translated = PacketPlanner.Apply(packet, plan, AsLookup(result.Connection, plan.LookupKey));
        return inserted ? translated.AsCreated() : translated;
    }

    /// <summary>Source NAT of the packet's flow through <paramref name="publicAddress"/>.</summary>
    public NatAddResult AddNat<TCalls>(TCalls calls, ReadOnlySpan<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports) where TCalls : struct, ISyncStoreCalls
        => Add(calls, PlanAdd(packet, publicAddress, redirect: false, default, 0, ports), ports ?? Ports);

    /// <summary>Destination NAT (port forward) of the packet's flow to <paramref name="target"/>:<paramref name="targetPort"/>.</summary>
    public NatAddResult AddRedirect<TCalls>(TCalls calls, ReadOnlySpan<byte> packet, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort, IPortAllocator? ports)
        where TCalls : struct, ISyncStoreCalls
        => Add(calls, PlanAdd(packet, publicAddress, redirect: true, target, targetPort, ports), ports ?? Ports);

    private NatAddResult Add<TCalls>(TCalls calls, in AddPlan plan, IPortAllocator ports) where TCalls : struct, ISyncStoreCalls
    {
        if (plan.IsDone) return plan.Early;
        try
        {
            return Insert(calls, plan, ports, out _);
        }
        catch (NatStoreUnavailableException)
        {
            return new NatAddResult(NatAddStatus.StoreUnavailable);
        }
    }

    /// <summary>Removes every connection whose inside host is <paramref name="host"/>.</summary>
    public FreedPorts RemoveConnections<TCalls>(TCalls calls, Ipv4Address host) where TCalls : struct, ISyncStoreCalls
    {
        var removed = new List<NatConnection>();
        if (TCalls.HasHostIndex)
        {
            calls.RemoveConnections(host, removed);
        }
        else
        {
            // No host index: scan a snapshot, then remove each match (both directions go together).
            var selected = new List<NatConnection>();
            foreach (var connection in calls.Connections)
                if (connection.Involves(host)) selected.Add(connection);
            foreach (var connection in selected)
                if (calls.Remove(connection.OutboundKey, out var gone)) removed.Add(gone);
        }
        return new FreedPorts(removed);
    }

    /// <summary>True when no live connection has the flow as one of its keys.</summary>
    public bool IsPortFree<TCalls>(TCalls calls, NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort)
        where TCalls : struct, ISyncStoreCalls
        => !calls.Contains(PortQueryKey(protocol, source, destination, sourcePort, destinationPort), Cutoffs(Now));

    /// <summary>Removes every connection.</summary>
    public static void Reset<TCalls>(TCalls calls) where TCalls : struct, ISyncStoreCalls => calls.Clear();

    // ---- asynchronous stores -----------------------------------------------------------------------------------

    private async ValueTask<(NatAddResult Result, bool Inserted)> InsertAsync<TCalls>(TCalls calls, AddPlan plan, IPortAllocator ports,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        for (int attempt = 0; attempt < Options.AddAttempts && plan.TryCandidate(ports, attempt, out var candidate); attempt++)
        {
            var outcome = await calls.InsertAsync(candidate, plan.Rules, cancellationToken).ConfigureAwait(false);
            if (outcome.Status == NatInsertStatus.Inserted) return (new NatAddResult(NatAddStatus.Ok, candidate), true);
            if (plan.Complete(outcome.Status, candidate, outcome.Existing) is { } done)
            {
                // Re-adding a live connection counts as traffic on it.
                if (outcome.Status == NatInsertStatus.OutboundTaken && done.IsOk)
                    await calls.TouchAsync(plan.Outbound, plan.Now, cancellationToken).ConfigureAwait(false);
                return (done, false);
            }
        }
        return (plan.Exhausted, false);
    }

    /// <summary>Creates the connection of a new flow's packet by the policy, then translates the packet through it.</summary>
    private async ValueTask<NatTranslateResult> CreateAsync<TCalls>(TCalls calls, Memory<byte> packet, PacketPlan plan, NatSide side, long now,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        var add = PlanCreate(plan.LookupKey, plan.TcpFlags, side, now, out var refused);
        if (refused != UntranslatedReason.None) return NatTranslateResult.Untranslated(refused);
        if (PacketPlanner.TtlExpires(packet.Span)) return NatTranslateResult.TtlExceeded;
        NatAddResult result;
        bool inserted;
        try
        {
            (result, inserted) = await InsertAsync(calls, add, Ports, cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            return NatTranslateResult.StoreUnavailable;
        }
        if (!result.IsOk) return Refused(result);
        var translated = PacketPlanner.Apply(packet.Span, plan, AsLookup(result.Connection, plan.LookupKey));
        return inserted ? translated.AsCreated() : translated;
    }

    /// <summary>Source NAT of the packet's flow through <paramref name="publicAddress"/>.</summary>
    public ValueTask<NatAddResult> AddNatAsync<TCalls>(TCalls calls, ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
        => AddAsync(calls, PlanAdd(packet.Span, publicAddress, redirect: false, default, 0, ports), ports ?? Ports, cancellationToken);

    /// <summary>Destination NAT (port forward) of the packet's flow to <paramref name="target"/>:<paramref name="targetPort"/>.</summary>
    public ValueTask<NatAddResult> AddRedirectAsync<TCalls>(TCalls calls, ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort,
        IPortAllocator? ports, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
        => AddAsync(calls, PlanAdd(packet.Span, publicAddress, redirect: true, target, targetPort, ports), ports ?? Ports, cancellationToken);

    private async ValueTask<NatAddResult> AddAsync<TCalls>(TCalls calls, AddPlan plan, IPortAllocator ports, CancellationToken cancellationToken)
        where TCalls : struct, IAsyncStoreCalls
    {
        if (plan.IsDone) return plan.Early;
        try
        {
            return (await InsertAsync(calls, plan, ports, cancellationToken).ConfigureAwait(false)).Result;
        }
        catch (NatStoreUnavailableException)
        {
            return new NatAddResult(NatAddStatus.StoreUnavailable);
        }
    }

    /// <summary>Removes every connection whose inside host is <paramref name="host"/>.</summary>
    public async ValueTask<FreedPorts> RemoveConnectionsAsync<TCalls>(TCalls calls, Ipv4Address host, CancellationToken cancellationToken)
        where TCalls : struct, IAsyncStoreCalls
    {
        var removed = new List<NatConnection>();
        if (TCalls.HasHostIndex)
        {
            await calls.RemoveConnectionsAsync(host, removed, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // No host index: collect a snapshot's matches, then remove each (both directions go together).
            var selected = new List<NatConnection>();
            await foreach (var connection in calls.GetConnectionsAsync(cancellationToken).ConfigureAwait(false))
                if (connection.Involves(host)) selected.Add(connection);
            foreach (var connection in selected)
            {
                var gone = await calls.RemoveAsync(connection.OutboundKey, cancellationToken).ConfigureAwait(false);
                if (gone.Found) removed.Add(gone.Connection);
            }
        }
        return new FreedPorts(removed);
    }

    /// <summary>True when no live connection has the flow as one of its keys.</summary>
    public async ValueTask<bool> IsPortFreeAsync<TCalls>(TCalls calls, NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort,
        ushort destinationPort, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
        => !await calls.ContainsAsync(PortQueryKey(protocol, source, destination, sourcePort, destinationPort), Cutoffs(Now), cancellationToken).ConfigureAwait(false);

    /// <summary>Removes every connection.</summary>
    public static ValueTask ResetAsync<TCalls>(TCalls calls, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
        => calls.ClearAsync(cancellationToken);
}
