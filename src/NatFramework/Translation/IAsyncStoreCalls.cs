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

    /// <summary>See <see cref="IAsyncNatStore.LookupAsync"/>.</summary>
    ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatBatchLookup.LookupBatchAsync"/>.</summary>
    ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.InsertAsync"/>.</summary>
    ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.FindMappingAsync"/>.</summary>
    ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry,
        CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.TouchAsync"/>.</summary>
    ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.UpdateStateAsync"/>.</summary>
    ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.RemoveAsync"/>.</summary>
    ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.ContainsAsync"/>.</summary>
    ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.ClearAsync"/>.</summary>
    ValueTask ClearAsync(CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatStore.GetConnectionsAsync"/>.</summary>
    IAsyncEnumerable<NatConnection> GetConnectionsAsync(CancellationToken cancellationToken);

    /// <summary>See <see cref="IAsyncNatHostIndex.RemoveConnectionsAsync"/>.</summary>
    ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken);
}
