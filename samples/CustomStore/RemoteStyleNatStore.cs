using System.Runtime.CompilerServices;
using NatFramework;

namespace CustomStore;

/// <summary>
/// How to write an asynchronous store, the shape a store in front of a remote service takes. The table itself is a
/// <see cref="DictionaryNatStore"/>; each call may wait <see cref="Latency"/> first, standing in for a network round
/// trip, so the generated translator's asynchronous path (and its batch path: one wait for a whole batch) is real.
/// </summary>
/// <remarks>
/// A remote store reports an unreachable backend by throwing <see cref="NatStoreUnavailableException"/>; the generated
/// translator turns that into a <c>StoreUnavailable</c> result. Set <see cref="Unavailable"/> to see it.
/// </remarks>
public sealed class RemoteStyleNatStore : IAsyncNatStore, IAsyncNatBatchLookup
{
    private readonly DictionaryNatStore _table = new();

    /// <summary>Simulated round-trip time per call (zero: calls complete synchronously).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>When true, every call fails as if the backend were down.</summary>
    public bool Unavailable { get; set; }

    /// <summary>Round trips made so far (a batch lookup is one).</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    private long _roundTrips;

    private async ValueTask RoundTripAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _roundTrips);
        if (Unavailable) throw new NatStoreUnavailableException("RemoteStyleNatStore is marked unavailable.");
        if (Latency > TimeSpan.Zero) await Task.Delay(Latency, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        return _table.TryLookup(key, expiry, out var lookup) ? lookup : default;
    }

    /// <inheritdoc/>
    public async ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < keys.Length; i++)
        {
            var key = keys.Span[i];
            results.Span[i] = _table.TryLookup(key, expiry, out var lookup) ? lookup : default;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        var status = _table.TryInsert(connection, rules, out var existing);
        return new NatInsertOutcome(status, existing);
    }

    /// <inheritdoc/>
    public async ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry,
        CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        return _table.TryFindMapping(protocol, publicAddress, publicPort, remoteAddress, expiry, out var mapping) ? mapping : default;
    }

    /// <inheritdoc/>
    public async ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        _table.Touch(key, now);
    }

    /// <inheritdoc/>
    public async ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now,
        CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        return _table.UpdateState(key, expected, flags, now);
    }

    /// <inheritdoc/>
    public async ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        return _table.Remove(key, out var removed) ? new NatLookup(removed, FlowDirection.Outbound) : default;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        return _table.Contains(key, expiry);
    }

    /// <inheritdoc/>
    public async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        _table.Clear();
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<NatConnection> GetConnectionsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken).ConfigureAwait(false);
        foreach (var connection in _table.Connections) yield return connection;
    }
}

/// <summary>The translator generated for <see cref="RemoteStyleNatStore"/>: asynchronous, with a batch path.</summary>
[NatTranslator(typeof(RemoteStyleNatStore))]
public sealed partial class RemoteStyleNatTranslator;
