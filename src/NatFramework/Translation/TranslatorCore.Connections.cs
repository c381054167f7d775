using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework.Translation;

// Creating and removing connections: the policy's decision for a new flow, AddNat / AddRedirect, the insert loop over
// port candidates, removal by host, port queries and reset — each for synchronous and asynchronous stores.
public sealed partial class TranslatorCore
{
    // ---- deciding ----------------------------------------------------------------------------------------------

    /// <summary>What the policy makes of a new flow's packet before the store is asked (see <see cref="PlanCreate"/>).</summary>
    private enum CreateStep : byte
    {
        /// <summary>Nothing is created; the reason is given.</summary>
        Refuse,
        /// <summary>The plan is complete: insert it.</summary>
        Insert,
        /// <summary>An inside host sent to a public endpoint: the store's mapping of that endpoint is the destination.</summary>
        Hairpin,
        /// <summary>A packet from outside to a public endpoint: the store's mapping of it, if the filter lets the packet in.</summary>
        Inbound,
    }

    /// <summary>
    /// What the policy creates for a packet of the new flow <paramref name="key"/> that arrived on <paramref name="side"/>:
    /// a NAT connection when its source is in an inside network of a source-NAT rule (hairpinned when it goes to a public
    /// endpoint), a Redirect when it arrives at a port forward, a connection on an endpoint-independent mapping when the
    /// filter lets it in, or nothing, with the reason in <paramref name="refused"/>. Steps that need the store's mappings
    /// are finished by <see cref="OnMapping"/>.
    /// </summary>
    private CreateStep PlanCreate(in FlowKey key, byte tcpFlags, NatSide side, long now, out AddPlan plan, out UntranslatedReason refused)
    {
        var policy = _policy;
        plan = default;
        refused = UntranslatedReason.None;
        var flags = NatConnectionFlags.None;
        if (key.Protocol == NatProtocol.Tcp && !TcpStateTracker.TryOpen(tcpFlags, out flags))
            return Refuse(UntranslatedReason.NoConnection, out refused); // a RST opens nothing
        if (policy.InsideRuleFor(key.Source) is { } inside)
        {
            if (side == NatSide.Outside) return Refuse(UntranslatedReason.SpoofedSource, out refused);
            if (!key.Destination.IsUnicastRoutable || !key.Source.IsUnicastRoutable) return Refuse(UntranslatedReason.NotUnicast, out refused);
            if (policy.MapsEndpointIndependently(key.Protocol)) flags |= NatConnectionFlags.EndpointMapped;
            if (policy.Hairpinning && policy.IsPublicAddress(key.Destination))
            {
                // To a public endpoint of this NAT: a port forward's target, or the inside endpoint whose mapping it is,
                // reached with the sender's own public endpoint as the source (RFC 4787 REQ-9b).
                if (policy.ForwardFor(key) is { } hairpinForward)
                {
                    plan = new AddPlan(CannotNatReason.None, PacketError.None, key, inside.PublicAddress, hairpinForward.Target, hairpinForward.TargetPort,
                        redirect: false, flags, portAsked: false, takesExisting: true, now, InsertRules(key.Protocol, redirect: false, now), translatesDestination: true);
                    return CreateStep.Insert;
                }
                if (key.Protocol == NatProtocol.Icmp) return Refuse(UntranslatedReason.NoConnection, out refused); // a query to the NAT itself
                plan = new AddPlan(CannotNatReason.None, PacketError.None, key, inside.PublicAddress, default, 0, redirect: false, flags,
                    portAsked: false, takesExisting: true, now, InsertRules(key.Protocol, redirect: false, now), translatesDestination: true);
                return CreateStep.Hairpin;
            }
            plan = new AddPlan(CannotNatReason.None, PacketError.None, key, inside.PublicAddress, default, 0, redirect: false, flags,
                portAsked: false, takesExisting: true, now, InsertRules(key.Protocol, redirect: false, now));
            return CreateStep.Insert;
        }
        if (side == NatSide.Inside) return Refuse(UntranslatedReason.NotFromInsideNetwork, out refused);
        if (policy.ForwardFor(key) is { } forward)
        {
            if (!key.Source.IsUnicastRoutable) return Refuse(UntranslatedReason.NotUnicast, out refused);
            plan = new AddPlan(CannotNatReason.None, PacketError.None, key, forward.SourceAddress, forward.Target, forward.TargetPort, redirect: true,
                flags | NatConnectionFlags.Redirect, portAsked: false, takesExisting: true, now, InsertRules(key.Protocol, redirect: true, now));
            return CreateStep.Insert;
        }
        if (policy.FilteringFor(key.Protocol) != NatFilteringBehavior.AddressAndPortDependent && policy.IsPublicAddress(key.Destination)
            && key.Source.IsUnicastRoutable)
        {
            // The connection the packet would be the reply of: from the mapping's inside endpoint to the packet's source.
            plan = new AddPlan(CannotNatReason.None, PacketError.None, key.Reversed, default, default, 0, redirect: false, flags | NatConnectionFlags.EndpointMapped,
                portAsked: false, takesExisting: false, now, InsertRules(key.Protocol, redirect: false, now));
            return CreateStep.Inbound;
        }
        return Refuse(UntranslatedReason.NoConnection, out refused);
    }

    private static CreateStep Refuse(UntranslatedReason reason, out UntranslatedReason refused)
    {
        refused = reason;
        return CreateStep.Refuse;
    }

    /// <summary>
    /// Finishes a <see cref="CreateStep.Hairpin"/> or <see cref="CreateStep.Inbound"/> plan with the mapping the store
    /// found for the packet's destination; false with the reason when the packet opens nothing.
    /// </summary>
    private bool OnMapping(CreateStep step, in FlowKey key, bool found, in NatMapping mapping, ref AddPlan plan, out UntranslatedReason refused)
    {
        refused = UntranslatedReason.NoConnection;
        if (!found) return false;
        if (step == CreateStep.Hairpin)
        {
            // A host sending to its own mapping's endpoint from that endpoint would make a connection whose two keys are one.
            if (mapping.InsideAddress == key.Source && mapping.InsidePort == key.SourcePort) return false;
            plan = plan.To(mapping.InsideAddress, mapping.InsidePort);
            return true;
        }
        // From outside: endpoint-independent filtering lets anyone in; address-dependent filtering those the inside
        // endpoint has sent to (RFC 4787 REQ-8).
        if (_policy.FilteringFor(key.Protocol) == NatFilteringBehavior.AddressDependent && !mapping.SeenRemoteAddress)
        {
            refused = UntranslatedReason.Filtered;
            return false;
        }
        plan = plan.Inbound(mapping.InsideAddress, mapping.InsidePort, mapping.PublicAddress, mapping.PublicPort);
        return true;
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
        // The translator's own ports for a NAT follow the policy's mapping behaviour; a caller's allocator decides its ports.
        if (!redirect && ports is null && _policy.MapsEndpointIndependently(outbound.Protocol)) flags |= NatConnectionFlags.EndpointMapped;
        return new AddPlan(CannotNatReason.None, PacketError.None, outbound, publicAddress, target, targetPort, redirect, flags,
            portAsked: ports is not null, takesExisting: false, now, InsertRules(outbound.Protocol, redirect, now));
    }

    // ---- synchronous stores ------------------------------------------------------------------------------------

    /// <summary>
    /// Tries the plan's port candidates until the store takes one or answers for good. When the inside endpoint already has
    /// an endpoint-independent mapping, the store says so and the mapping's public endpoint is the one candidate left.
    /// </summary>
    private NatAddResult Insert<TCalls>(TCalls calls, in AddPlan plan, IPortAllocator ports, out bool inserted) where TCalls : struct, ISyncStoreCalls
    {
        inserted = false;
        var current = plan;
        var portClass = calls.PortClassOf(plan.Outbound, plan.IsRedirect);
        for (int tries = 0, attempt = 0; tries < Options.AddAttempts && current.TryCandidate(ports, portClass, attempt, out var candidate); tries++, attempt++)
        {
            var status = calls.TryInsert(candidate, current.Rules, out var existing);
            // The usual answer first, without the nullable result of Complete (two copies of a connection).
            if (status == NatInsertStatus.Inserted)
            {
                inserted = true;
                return new NatAddResult(NatAddStatus.Ok, candidate);
            }
            if (status == NatInsertStatus.MappingConflict)
            {
                current = current.OnMappingOf(existing.Connection);
                attempt = -1;
                continue;
            }
            if (current.Complete(status, candidate, existing) is { } done)
            {
                // Re-adding a live connection counts as traffic on it.
                if (status == NatInsertStatus.OutboundTaken && done.IsOk) calls.Touch(current.Outbound, current.Now);
                return done;
            }
        }
        return current.Exhausted;
    }

    /// <summary>Creates the connection of a new flow's packet by the policy, then translates the packet through it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private NatTranslateResult Create<TCalls>(TCalls calls, Span<byte> packet, in PacketPlan plan, NatSide side, long now) where TCalls : struct, ISyncStoreCalls
    {
        var step = PlanCreate(plan.LookupKey, plan.TcpFlags, side, now, out var add, out var refused);
        if (step == CreateStep.Refuse) return NatTranslateResult.Untranslated(refused);
        // A packet that will not be forwarded (TTL 1: a traceroute probe) is answered without opening anything.
        if (PacketPlanner.TtlExpires(packet)) return NatTranslateResult.TtlExceeded;
        if (step != CreateStep.Insert)
        {
            var key = plan.LookupKey;
            var remote = step == CreateStep.Hairpin ? add.PublicAddress : key.Source;
            bool found = calls.TryFindMapping(key.Protocol, key.Destination, key.DestinationPort, remote, add.Rules.Expiry, out var mapping);
            if (!OnMapping(step, key, found, mapping, ref add, out refused)) return NatTranslateResult.Untranslated(refused);
        }
        var result = Insert(calls, add, Ports, out bool inserted);
        return Translated(packet, plan, result, inserted);
    }

    /// <summary>Translates a new flow's packet through the connection its creation ended with.</summary>
    private static NatTranslateResult Translated(Span<byte> packet, in PacketPlan plan, in NatAddResult result, bool inserted)
    {
        if (!result.IsOk) return Refused(result);
        var connection = result.Connection;
        var key = plan.LookupKey;
        // A connection that was there first, and that the packet is not part of (an inside endpoint's other flow to the
        // same far endpoint, through another public endpoint), is no connection of this packet.
        if (!connection.OutboundKey.Equals(key) && !connection.ReplyKey.Equals(key)) return NoConnection;
        var translated = PacketPlanner.Apply(packet, plan, AsLookup(connection, key));
        return inserted ? translated.AsCreated() : translated;
    }

    /// <inheritdoc cref="ISyncNatTranslator.AddNat"/>
    public NatAddResult AddNat<TCalls>(TCalls calls, ReadOnlySpan<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports) where TCalls : struct, ISyncStoreCalls
        => Add(calls, PlanAdd(packet, publicAddress, redirect: false, default, 0, ports), ports ?? Ports);

    /// <inheritdoc cref="ISyncNatTranslator.AddRedirect"/>
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

    /// <inheritdoc cref="ISyncNatTranslator.RemoveConnections"/>
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
        LogRemoved(host, removed.Count);
        return new FreedPorts(removed);
    }

    /// <inheritdoc cref="ISyncNatTranslator.IsPortFree"/>
    public bool IsPortFree<TCalls>(TCalls calls, NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort)
        where TCalls : struct, ISyncStoreCalls
        => !calls.Contains(PortQueryKey(protocol, source, destination, sourcePort, destinationPort), Cutoffs(Now));

    /// <inheritdoc cref="ISyncNatTranslator.Reset"/>
    public void Reset<TCalls>(TCalls calls) where TCalls : struct, ISyncStoreCalls
    {
        calls.Clear();
        LogReset();
    }

    // ---- asynchronous stores -----------------------------------------------------------------------------------

    private async ValueTask<(NatAddResult Result, bool Inserted)> InsertAsync<TCalls>(TCalls calls, AddPlan plan, IPortAllocator ports,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        var portClass = calls.PortClassOf(plan.Outbound, plan.IsRedirect);
        for (int tries = 0, attempt = 0; tries < Options.AddAttempts && plan.TryCandidate(ports, portClass, attempt, out var candidate); tries++, attempt++)
        {
            var outcome = await calls.InsertAsync(candidate, plan.Rules, cancellationToken).ConfigureAwait(false);
            if (outcome.Status == NatInsertStatus.Inserted) return (new NatAddResult(NatAddStatus.Ok, candidate), true);
            if (outcome.Status == NatInsertStatus.MappingConflict)
            {
                plan = plan.OnMappingOf(outcome.Existing.Connection); // see Insert
                attempt = -1;
                continue;
            }
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
        var step = PlanCreate(plan.LookupKey, plan.TcpFlags, side, now, out var add, out var refused);
        if (step == CreateStep.Refuse) return NatTranslateResult.Untranslated(refused);
        if (PacketPlanner.TtlExpires(packet.Span)) return NatTranslateResult.TtlExceeded;
        NatAddResult result;
        bool inserted;
        try
        {
            if (step != CreateStep.Insert)
            {
                var key = plan.LookupKey;
                var remote = step == CreateStep.Hairpin ? add.PublicAddress : key.Source;
                var mapping = await calls.FindMappingAsync(key.Protocol, key.Destination, key.DestinationPort, remote, add.Rules.Expiry, cancellationToken).ConfigureAwait(false);
                if (!OnMapping(step, key, mapping.Found, mapping, ref add, out refused)) return NatTranslateResult.Untranslated(refused);
            }
            (result, inserted) = await InsertAsync(calls, add, Ports, cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            return NatTranslateResult.StoreUnavailable;
        }
        return Translated(packet.Span, plan, result, inserted);
    }

    /// <inheritdoc cref="INatTranslator.AddNatAsync"/>
    public ValueTask<NatAddResult> AddNatAsync<TCalls>(TCalls calls, ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
        => AddAsync(calls, PlanAdd(packet.Span, publicAddress, redirect: false, default, 0, ports), ports ?? Ports, cancellationToken);

    /// <inheritdoc cref="INatTranslator.AddRedirectAsync"/>
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

    /// <inheritdoc cref="INatTranslator.RemoveConnectionsAsync"/>
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
        LogRemoved(host, removed.Count);
        return new FreedPorts(removed);
    }

    /// <inheritdoc cref="INatTranslator.IsPortFreeAsync"/>
    public async ValueTask<bool> IsPortFreeAsync<TCalls>(TCalls calls, NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort,
        ushort destinationPort, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
        => !await calls.ContainsAsync(PortQueryKey(protocol, source, destination, sourcePort, destinationPort), Cutoffs(Now), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc cref="INatTranslator.ResetAsync"/>
    public async ValueTask ResetAsync<TCalls>(TCalls calls, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        await calls.ClearAsync(cancellationToken).ConfigureAwait(false);
        LogReset();
    }
}
