namespace NatFramework;

/// <summary>
/// Optional capability of a synchronous store: look up many keys at once, so the store can hash ahead
/// and prefetch table slots. The generated translator's batch path uses it; without it, it loops over
/// <see cref="INatStore.TryLookup"/>.
/// </summary>
public interface INatBatchLookup
{
    /// <summary>Looks up each key; <c>results[i]</c> is <c>default</c> when <c>keys[i]</c> has no live connection.</summary>
    /// <param name="keys">The flows of the packets.</param>
    /// <param name="expiry">Which connections count as expired (absent).</param>
    /// <param name="results">One answer per key.</param>
    void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results);
}

/// <summary>
/// Optional capability of a synchronous store: lookups that answer with only the rewrite (<see cref="FlowRewrite"/>)
/// and mark the connection used at <c>now</c> themselves, so the translator makes no <see cref="INatStore.Touch"/>
/// call on the packet path. When a store has it, the generated translator uses it for every packet it translates.
/// </summary>
/// <remarks>
/// Marking used is the store's business: it must make the connection's last-seen time at least <c>now</c> (for
/// expiry) and count the use for its eviction order, as a lookup followed by a touch would. A connection expired under
/// the cutoffs is absent and must not be revived.
/// </remarks>
public interface INatRewriteLookup
{
    /// <summary>
    /// Looks up <paramref name="key"/>; on a hit writes the rewrite and marks the connection used at <paramref name="now"/>:
    /// its last-seen time moves forward to it, except for a UDP connection found by its reply key when
    /// <see cref="ExpiryCutoffs.UdpRepliesRefresh"/> is false, and when <paramref name="now"/> is <see cref="long.MinValue"/>
    /// (an ICMP error about the flow, which must not refresh it: RFC 5508 REQ-6).
    /// </summary>
    /// <param name="key">The flow of a packet.</param>
    /// <param name="now">The time of the packet, or <see cref="long.MinValue"/> for a lookup that refreshes nothing.</param>
    /// <param name="expiry">Which connections count as expired (absent; they must not be revived).</param>
    /// <param name="rewrite">The flow the packet becomes and its direction; <c>default</c> when none.</param>
    /// <returns>True when a live connection has the key.</returns>
    bool TryLookupRewrite(in FlowKey key, long now, in ExpiryCutoffs expiry, out FlowRewrite rewrite);

    /// <summary>
    /// Looks up each key as <see cref="TryLookupRewrite"/> does; <c>results[i]</c> is <c>default</c> when <c>keys[i]</c>
    /// has no live connection. Lets the store hash ahead and prefetch.
    /// </summary>
    /// <param name="keys">The flows of the packets.</param>
    /// <param name="now">The time of the packets.</param>
    /// <param name="expiry">Which connections count as expired.</param>
    /// <param name="results">One answer per key.</param>
    void LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, in ExpiryCutoffs expiry, Span<FlowRewrite> results);
}

/// <summary>Optional capability of an asynchronous store: many lookups in one round trip.</summary>
public interface IAsyncNatBatchLookup
{
    /// <summary>Looks up each key; <c>results.Span[i]</c> is <c>default</c> when none.</summary>
    /// <param name="keys">The flows of the packets.</param>
    /// <param name="expiry">Which connections count as expired.</param>
    /// <param name="results">One answer per key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Completes when every answer is written.</returns>
    ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken = default);
}

/// <summary>
/// Optional capability: an index from host to connections, so removing a host's connections costs
/// O(connections of that host) rather than a scan of the table.
/// </summary>
public interface INatHostIndex
{
    /// <summary>
    /// Removes every connection whose <see cref="NatConnection.InsideHost"/> is <paramref name="host"/>, both directions,
    /// and adds each removed connection to <paramref name="removed"/>.
    /// </summary>
    /// <param name="host">The inside host.</param>
    /// <param name="removed">Receives each removed connection.</param>
    /// <returns>How many were removed.</returns>
    int RemoveConnections(Ipv4Address host, List<NatConnection> removed);
}

/// <summary>Optional capability of an asynchronous store: a host index (see <see cref="INatHostIndex"/>).</summary>
public interface IAsyncNatHostIndex
{
    /// <summary>Removes every connection whose inside host is <paramref name="host"/>, adding each to <paramref name="removed"/>.</summary>
    /// <param name="host">The inside host.</param>
    /// <param name="removed">Receives each removed connection.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>How many were removed.</returns>
    ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken = default);
}

/// <summary>
/// Optional capability: the store expires idle connections itself (for example with Redis key expiry).
/// The translator hands it the timeouts once, at construction, and then passes <see cref="ExpiryCutoffs.Never"/>;
/// <c>Touch</c> and <c>UpdateState</c> calls still arrive and must extend the lifetime.
/// </summary>
public interface INatNativeExpiry
{
    /// <summary>
    /// Called once by the translator with the idle timeouts to apply (or <c>null</c> when expiry is disabled). A
    /// connection's lifetime follows its state: <see cref="NatTimeouts.For(in NatConnection)"/>.
    /// </summary>
    /// <param name="timeouts">The timeouts, or null.</param>
    void ConfigureExpiry(NatTimeouts? timeouts);
}

/// <summary>
/// Optional capability of a synchronous store: statistics about its table. When a store has it, its translators publish
/// them on the library's meter (<see cref="NatMetrics"/>): read when a listener collects, never on the packet path.
/// </summary>
public interface INatStoreStatistics
{
    /// <summary>The table's size now and the store's eviction and expiry counts. Cheap and safe from any thread.</summary>
    /// <returns>The statistics.</returns>
    NatStoreStatistics GetStatistics();
}

/// <summary>
/// Optional capability of an asynchronous store: statistics about its table (see <see cref="INatStoreStatistics"/>). The
/// meter cannot wait for a remote answer when it collects, so it publishes the previous answer and asks again: values
/// are one collection interval old.
/// </summary>
public interface IAsyncNatStoreStatistics
{
    /// <summary>The table's size now and the store's eviction and expiry counts.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The statistics.</returns>
    /// <exception cref="NatStoreUnavailableException">The store could not be reached.</exception>
    ValueTask<NatStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// Optional capability: the store partitions the public port space, so a new connection may only take ports of one
/// class (a table sharded by inside host, where a reply's public port has to say which shard holds it). The translator asks
/// once per new connection and hands the class to the port allocator (<see cref="IPortAllocator.TryGetCandidate(in FlowKey, int, PortClass, out ushort)"/>);
/// a store with it refuses a candidate outside the class as <see cref="NatInsertStatus.ReplyTaken"/>, so an allocator that
/// insists on such a port (a fixed one) runs out of candidates instead of creating a connection no reply could find.
/// </summary>
public interface INatPortClasses
{
    /// <summary>The ports a new connection with the outbound flow <paramref name="outbound"/> may take. Pure and cheap.</summary>
    /// <param name="outbound">The new connection's outbound flow (the inside endpoint's side; a redirect's first packet).</param>
    /// <param name="redirect">True for a redirect (destination NAT), whose place follows the public port it arrived at.</param>
    /// <returns>The class; <see cref="PortClass.Any"/> when every port will do.</returns>
    PortClass PortClassOf(in FlowKey outbound, bool redirect);
}
