namespace NatFramework;

/// <summary>
/// The synchronous NAT table contract, for in-process stores. Declare a translator for a store with
/// <c>[NatTranslator(typeof(MyStore))]</c>; the generated translator calls these members directly.
/// </summary>
/// <remarks>
/// <para><b>Model.</b> A store holds <see cref="NatConnection"/>s. Each is found under two keys, its
/// <see cref="NatConnection.OutboundKey"/> and its <see cref="NatConnection.ReplyKey"/>; a lookup of either
/// returns the connection and the direction that matched. A store never holds one direction without the other.</para>
/// <para><b>Thread safety.</b> Every member may be called from several threads at once (a router reads its
/// interfaces on separate threads), and each member is atomic with respect to the others.</para>
/// <para><b>Expiry.</b> A connection is <i>expired</i> when its <see cref="NatConnection.LastSeen"/> is
/// less than the <c>expiredBefore</c> the caller passes (the translator computes it per protocol from its
/// clock and timeouts; <see cref="long.MinValue"/> when expiry is off). An expired connection must behave
/// exactly as an absent one: lookups miss, <see cref="Contains"/> is false, and an insert may replace it.
/// A store may reclaim it at any time, lazily or not. Stores with their own time-to-live implement
/// <see cref="INatNativeExpiry"/>.</para>
/// <para><b>Errors.</b> A store whose backend is unreachable throws <see cref="NatStoreUnavailableException"/>.</para>
/// <para><b>Optional capabilities</b>, detected by the generator from members of these exact shapes:
/// <see cref="INatBatchLookup"/>, <see cref="INatHostIndex"/>, <see cref="INatNativeExpiry"/>.</para>
/// </remarks>
public interface INatStore
{
    /// <summary>Finds the live connection that has <paramref name="key"/> as its outbound or reply key.</summary>
    bool TryLookup(in FlowKey key, long expiredBefore, out NatLookup lookup);

    /// <summary>
    /// Atomically inserts both directions of <paramref name="connection"/>, or nothing. Checks the outbound
    /// key first: if a live connection has it (in either direction) the answer is
    /// <see cref="NatInsertStatus.OutboundTaken"/> with that connection in <paramref name="existing"/>; then the
    /// reply key: <see cref="NatInsertStatus.ReplyTaken"/>. Keys held only by expired connections count as free
    /// (the expired connection is removed, both directions).
    /// </summary>
    NatInsertStatus TryInsert(in NatConnection connection, long expiredBefore, out NatLookup existing);

    /// <summary>
    /// Records traffic on the connection that has <paramref name="key"/> (either direction): sets its
    /// <see cref="NatConnection.LastSeen"/> to <paramref name="now"/>. The translator calls this at most once
    /// per refresh interval per connection, not per packet. No effect when the key is unknown.
    /// </summary>
    void Touch(in FlowKey key, long now);

    /// <summary>Removes the connection that has <paramref name="key"/> (either direction), both directions at once.</summary>
    bool Remove(in FlowKey key, out NatConnection removed);

    /// <summary>True when a live connection has <paramref name="key"/> as its outbound or reply key.</summary>
    bool Contains(in FlowKey key, long expiredBefore);

    /// <summary>Removes every connection.</summary>
    void Clear();

    /// <summary>
    /// A snapshot of the connections (expired ones may be included). Used by the fallback of
    /// <c>RemoveConnections</c> when the store has no <see cref="INatHostIndex"/>; never on the packet path.
    /// </summary>
    IEnumerable<NatConnection> Connections { get; }
}

/// <summary>
/// The asynchronous NAT table contract, for remote stores. Same model, thread safety, expiry and error
/// rules as <see cref="INatStore"/>; every member returns a <see cref="ValueTask"/> so a cache hit can
/// complete synchronously without allocating.
/// </summary>
public interface IAsyncNatStore
{
    /// <summary>Finds the live connection with <paramref name="key"/>; <c>default</c> (not <see cref="NatLookup.Found"/>) when none.</summary>
    ValueTask<NatLookup> LookupAsync(FlowKey key, long expiredBefore, CancellationToken cancellationToken = default);

    /// <summary>Atomically inserts both directions, as <see cref="INatStore.TryInsert"/>.</summary>
    ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, long expiredBefore, CancellationToken cancellationToken = default);

    /// <summary>Records traffic, as <see cref="INatStore.Touch"/>.</summary>
    ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default);

    /// <summary>Removes the connection with <paramref name="key"/>; returns it, or <c>default</c> when none.</summary>
    ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default);

    /// <summary>True when a live connection has <paramref name="key"/>.</summary>
    ValueTask<bool> ContainsAsync(FlowKey key, long expiredBefore, CancellationToken cancellationToken = default);

    /// <summary>Removes every connection.</summary>
    ValueTask ClearAsync(CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the connections, for the fallback of <c>RemoveConnections</c>.</summary>
    IAsyncEnumerable<NatConnection> GetConnectionsAsync(CancellationToken cancellationToken = default);
}
