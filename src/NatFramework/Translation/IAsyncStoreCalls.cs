using System.ComponentModel;

namespace NatFramework.Translation;

/// <summary>
/// The calls a translator makes on an asynchronous store; the generated counterpart of <see cref="ISyncStoreCalls"/>.
/// Public only for generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IAsyncStoreCalls
{
    /// <summary>The store answers many keys in one round trip (<see cref="IAsyncNatBatchLookup"/>).</summary>
    static abstract bool HasBatchLookup { get; }

    /// <summary>The store removes a host's connections itself (<see cref="IAsyncNatHostIndex"/>).</summary>
    static abstract bool HasHostIndex { get; }

    /// <inheritdoc cref="IAsyncNatStore.LookupAsync"/>
    ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatBatchLookup.LookupBatchAsync"/>
    ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.InsertAsync"/>
    ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.FindMappingAsync"/>
    ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry,
        CancellationToken cancellationToken);

    /// <summary>The ports a new connection may take: the store's answer (<see cref="INatPortClasses"/>), or every port.</summary>
    /// <param name="outbound">The new connection's outbound flow.</param>
    /// <param name="redirect">True for a redirect.</param>
    /// <returns>The class of ports.</returns>
    PortClass PortClassOf(in FlowKey outbound, bool redirect);

    /// <inheritdoc cref="IAsyncNatStore.TouchAsync"/>
    ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.UpdateStateAsync"/>
    ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.RemoveAsync"/>
    ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.ContainsAsync"/>
    ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.ClearAsync"/>
    ValueTask ClearAsync(CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatStore.GetConnectionsAsync"/>
    IAsyncEnumerable<NatConnection> GetConnectionsAsync(CancellationToken cancellationToken);

    /// <inheritdoc cref="IAsyncNatHostIndex.RemoveConnectionsAsync"/>
    ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken);
}
