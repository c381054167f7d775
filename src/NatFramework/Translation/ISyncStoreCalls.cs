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

    /// <summary>See <see cref="INatStore.TryLookup"/>.</summary>
    bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup);

    /// <summary>See <see cref="INatBatchLookup.LookupBatch"/>.</summary>
    void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results);

    /// <summary>See <see cref="INatRewriteLookup.TryLookupRewrite"/>.</summary>
    bool TryLookupRewrite(in FlowKey key, long now, in ExpiryCutoffs expiry, out FlowRewrite rewrite);

    /// <summary>See <see cref="INatRewriteLookup.LookupRewriteBatch"/>.</summary>
    void LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, in ExpiryCutoffs expiry, Span<FlowRewrite> results);

    /// <summary>See <see cref="INatStore.TryInsert"/>.</summary>
    NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing);

    /// <summary>See <see cref="INatStore.TryFindMapping"/>.</summary>
    bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping);

    /// <summary>See <see cref="INatStore.Touch"/>.</summary>
    void Touch(in FlowKey key, long now);

    /// <summary>See <see cref="INatStore.UpdateState"/>.</summary>
    NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now);

    /// <summary>See <see cref="INatStore.Remove"/>.</summary>
    bool Remove(in FlowKey key, out NatConnection removed);

    /// <summary>See <see cref="INatStore.Contains"/>.</summary>
    bool Contains(in FlowKey key, in ExpiryCutoffs expiry);

    /// <summary>See <see cref="INatStore.Clear"/>.</summary>
    void Clear();

    /// <summary>See <see cref="INatStore.Connections"/>.</summary>
    IEnumerable<NatConnection> Connections { get; }

    /// <summary>See <see cref="INatHostIndex.RemoveConnections"/>.</summary>
    int RemoveConnections(Ipv4Address host, List<NatConnection> removed);
}
