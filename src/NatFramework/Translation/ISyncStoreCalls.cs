using System.ComponentModel;

namespace NatFramework.Translation;

/// <summary>
/// The calls a translator makes on a synchronous store. The generator implements it, per store, as a struct whose members
/// call the store's own members directly; <see cref="TranslatorCore"/>'s methods are generic over that struct, so the JIT
/// compiles them once per store with direct, inlinable calls and no interface dispatch. The static flags say which
/// optional capabilities the store has: the core never calls the members of one it lacks, and the JIT drops those
/// branches. Public only for generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ISyncStoreCalls
{
    /// <summary>The store answers many keys in one call (<see cref="INatBatchLookup"/>).</summary>
    static abstract bool HasBatchLookup { get; }

    /// <summary>The store answers with rewrites and marks connections used itself (<see cref="INatRewriteLookup"/>).</summary>
    static abstract bool HasRewriteLookup { get; }

    /// <summary>The store answers many rewrite lookups in one call.</summary>
    static abstract bool HasRewriteBatchLookup { get; }

    /// <summary>The store removes a host's connections itself (<see cref="INatHostIndex"/>).</summary>
    static abstract bool HasHostIndex { get; }

    /// <inheritdoc cref="INatStore.TryLookup"/>
    bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup);

    /// <inheritdoc cref="INatBatchLookup.LookupBatch"/>
    void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results);

    /// <inheritdoc cref="INatRewriteLookup.TryLookupRewrite"/>
    bool TryLookupRewrite(in FlowKey key, long now, in ExpiryCutoffs expiry, out FlowRewrite rewrite);

    /// <inheritdoc cref="INatRewriteLookup.LookupRewriteBatch"/>
    void LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, in ExpiryCutoffs expiry, Span<FlowRewrite> results);

    /// <inheritdoc cref="INatStore.TryInsert"/>
    NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing);

    /// <inheritdoc cref="INatStore.TryFindMapping"/>
    bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping);

    /// <summary>The ports a new connection may take: the store's answer (<see cref="INatPortClasses"/>), or every port.</summary>
    /// <param name="outbound">The new connection's outbound flow.</param>
    /// <param name="redirect">True for a redirect.</param>
    /// <returns>The class of ports.</returns>
    PortClass PortClassOf(in FlowKey outbound, bool redirect);

    /// <inheritdoc cref="INatStore.Touch"/>
    void Touch(in FlowKey key, long now);

    /// <inheritdoc cref="INatStore.UpdateState"/>
    NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now);

    /// <inheritdoc cref="INatStore.Remove"/>
    bool Remove(in FlowKey key, out NatConnection removed);

    /// <inheritdoc cref="INatStore.Contains"/>
    bool Contains(in FlowKey key, in ExpiryCutoffs expiry);

    /// <inheritdoc cref="INatStore.Clear"/>
    void Clear();

    /// <inheritdoc cref="INatStore.Connections"/>
    IEnumerable<NatConnection> Connections { get; }

    /// <inheritdoc cref="INatHostIndex.RemoveConnections"/>
    int RemoveConnections(Ipv4Address host, List<NatConnection> removed);
}
