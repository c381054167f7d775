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
/// <para><b>Expiry.</b> A connection is <i>expired</i> when <see cref="ExpiryCutoffs.IsExpired"/> says so for the cutoffs
/// the caller passes: its <see cref="NatConnection.LastSeen"/> is below the cutoff of its protocol and TCP state (the
/// translator computes them from its clock and timeouts; <see cref="ExpiryCutoffs.Never"/> when expiry is off). An
/// expired connection must behave exactly as an absent one: lookups miss, <see cref="Contains"/> is false, it does not
/// count toward a limit, and an insert may replace it. A store may reclaim it at any time, lazily or not. Stores with
/// their own time-to-live implement <see cref="INatNativeExpiry"/>.</para>
/// <para><b>Bounds.</b> A store that holds a bounded number of connections makes room first from expired connections,
/// then from transitory TCP ones (<see cref="NatConnectionFlags.TcpTransitory"/>), before it evicts an established one or
/// answers <see cref="NatInsertStatus.TableFull"/>.</para>
/// <para><b>Mappings.</b> Connections flagged <see cref="NatConnectionFlags.EndpointMapped"/> make up endpoint-independent
/// mappings: one per inside endpoint (protocol, <c>Outbound</c>'s source address and port), whose public endpoint is
/// the connections' <c>Translated</c> source. A mapping lives exactly as long as one of its connections does (expiry,
/// eviction, removal, <see cref="Clear"/> end it with its last connection). <see cref="TryInsert"/> keeps them consistent
/// atomically with the insert; <see cref="TryFindMapping"/> finds one by its public endpoint. Connections without the
/// flag take part in no mapping.</para>
/// <para><b>Errors.</b> A store whose backend is unreachable throws <see cref="NatStoreUnavailableException"/>.</para>
/// <para><b>Optional capabilities</b>, detected by the generator from members of these exact shapes:
/// <see cref="INatBatchLookup"/>, <see cref="INatRewriteLookup"/>, <see cref="INatHostIndex"/>, <see cref="INatNativeExpiry"/>.</para>
/// </remarks>
public interface INatStore
{
    /// <summary>Finds the live connection that has <paramref name="key"/> as its outbound or reply key.</summary>
    /// <param name="key">The flow of a packet.</param>
    /// <param name="expiry">Which connections count as expired (absent).</param>
    /// <param name="lookup">The connection and the direction <paramref name="key"/> matched; <c>default</c> when none.</param>
    /// <returns>True when a live connection has the key.</returns>
    bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup);

    /// <summary>
    /// Atomically inserts both directions of <paramref name="connection"/>, or nothing. Checks the outbound key first: if
    /// a live connection has it (in either direction) the answer is <see cref="NatInsertStatus.OutboundTaken"/> with that
    /// connection in <paramref name="existing"/>; then the reply key (<see cref="NatInsertStatus.ReplyTaken"/>); then,
    /// for a connection flagged <see cref="NatConnectionFlags.EndpointMapped"/>, its inside endpoint's mapping (another
    /// public endpoint: <see cref="NatInsertStatus.MappingConflict"/> with one of the mapping's connections in
    /// <paramref name="existing"/>) and its public endpoint (another inside endpoint's mapping: <see cref="NatInsertStatus.ReplyTaken"/>)
    /// — the mapping may also be checked before the reply key, which spares a probe when the answer is a conflict;
    /// then the inside host's limit (<see cref="NatInsertStatus.HostLimitReached"/>); then room
    /// (<see cref="NatInsertStatus.TableFull"/>). Keys and mappings held only by expired connections count as free (the
    /// expired connection is removed, both directions).
    /// </summary>
    /// <param name="connection">The connection to add, both directions.</param>
    /// <param name="rules">The expiry cutoffs and the inside host's limit.</param>
    /// <param name="existing">For <see cref="NatInsertStatus.OutboundTaken"/>, the live connection that holds the outbound key; for <see cref="NatInsertStatus.MappingConflict"/>, a live connection of the inside endpoint's mapping.</param>
    /// <returns>What the store did.</returns>
    NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing);

    /// <summary>
    /// Finds the live endpoint-independent mapping whose public endpoint is <paramref name="publicAddress"/>:<paramref name="publicPort"/>
    /// (a live connection flagged <see cref="NatConnectionFlags.EndpointMapped"/> with that <c>Translated</c> source), for
    /// a packet from <paramref name="remoteAddress"/> that no connection has: the translator's filtering and hairpinning
    /// decide by it. Called for such packets only, never for a packet of a known flow.
    /// </summary>
    /// <param name="protocol">The protocol (TCP or UDP; ICMP identifiers for hairpinned ICMP errors).</param>
    /// <param name="publicAddress">The public address the packet went to.</param>
    /// <param name="publicPort">The public port (ICMP: identifier) it went to.</param>
    /// <param name="remoteAddress">The packet's source address: <see cref="NatMapping.SeenRemoteAddress"/> says whether a live connection of the mapping goes to it.</param>
    /// <param name="expiry">Which connections count as expired (a mapping of expired connections only is none).</param>
    /// <param name="mapping">The mapping; <c>default</c> when none.</param>
    /// <returns>True when a live mapping has the public endpoint.</returns>
    bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping);

    /// <summary>
    /// Records traffic on the connection that has <paramref name="key"/> (either direction): sets its
    /// <see cref="NatConnection.LastSeen"/> to <paramref name="now"/>. The translator calls this at most once
    /// per refresh interval per connection, not per packet. No effect when the key is unknown.
    /// </summary>
    /// <param name="key">Either key of the connection.</param>
    /// <param name="now">The time of the traffic, in the translator's milliseconds.</param>
    void Touch(in FlowKey key, long now);

    /// <summary>
    /// Records a TCP state change of the connection that has <paramref name="key"/>, as a compare-and-set: when its flags
    /// are <paramref name="expected"/>, they become <paramref name="flags"/> and its last-seen time <paramref name="now"/>;
    /// otherwise nothing changes. Called when a SYN, FIN or RST changes the state, never per packet. Atomic per connection:
    /// two packets of one connection (two threads, two routers on a shared store) may each have read the state, and the
    /// comparison keeps one from overwriting what the other recorded (a FIN seen each way must not become one).
    /// </summary>
    /// <param name="key">Either key of the connection.</param>
    /// <param name="expected">The flags the caller's change was computed from.</param>
    /// <param name="flags">The connection's new flags (kind and TCP state).</param>
    /// <param name="now">The time of the packet that changed the state.</param>
    /// <returns>
    /// The flags the connection had before the call — equal to <paramref name="expected"/> exactly when the update was
    /// made; the translator computes the change again from any other value — or null when no connection has the key.
    /// </returns>
    NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now);

    /// <summary>Removes the connection that has <paramref name="key"/> (either direction), both directions at once.</summary>
    /// <param name="key">Either key of the connection.</param>
    /// <param name="removed">The connection removed.</param>
    /// <returns>True when a connection was removed.</returns>
    bool Remove(in FlowKey key, out NatConnection removed);

    /// <summary>True when a live connection has <paramref name="key"/> as its outbound or reply key.</summary>
    /// <param name="key">The key asked about.</param>
    /// <param name="expiry">Which connections count as expired (absent).</param>
    /// <returns>True when a live connection has the key.</returns>
    bool Contains(in FlowKey key, in ExpiryCutoffs expiry);

    /// <summary>Removes every connection.</summary>
    void Clear();

    /// <summary>
    /// A snapshot of the connections (expired ones may be included). Used by the fallback of
    /// <c>RemoveConnections</c> when the store has no <see cref="INatHostIndex"/>; never on the packet path.
    /// </summary>
    IEnumerable<NatConnection> Connections { get; }
}

/// <summary>
/// The asynchronous NAT table contract, for remote stores. Same model, thread safety, expiry, bounds and error rules as
/// <see cref="INatStore"/>; every member returns a <see cref="ValueTask"/> so a cache hit can complete synchronously
/// without allocating.
/// </summary>
public interface IAsyncNatStore
{
    /// <summary>Finds the live connection with <paramref name="key"/>, as <see cref="INatStore.TryLookup"/>.</summary>
    /// <param name="key">The flow of a packet.</param>
    /// <param name="expiry">Which connections count as expired (absent).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The connection and the direction matched; <c>default</c> (not <see cref="NatLookup.Found"/>) when none.</returns>
    ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default);

    /// <summary>Atomically inserts both directions, as <see cref="INatStore.TryInsert"/>.</summary>
    /// <param name="connection">The connection to add.</param>
    /// <param name="rules">The expiry cutoffs and the inside host's limit.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>What the store did and, for <see cref="NatInsertStatus.OutboundTaken"/>, the existing connection.</returns>
    ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken = default);

    /// <summary>Finds a live endpoint-independent mapping by its public endpoint, as <see cref="INatStore.TryFindMapping"/>.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="publicAddress">The public address the packet went to.</param>
    /// <param name="publicPort">The public port (ICMP: identifier) it went to.</param>
    /// <param name="remoteAddress">The packet's source address.</param>
    /// <param name="expiry">Which connections count as expired.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The mapping; <c>default</c> (not <see cref="NatMapping.Found"/>) when none.</returns>
    ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry,
        CancellationToken cancellationToken = default);

    /// <summary>Records traffic, as <see cref="INatStore.Touch"/>.</summary>
    /// <param name="key">Either key of the connection.</param>
    /// <param name="now">The time of the traffic.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Completes when recorded (a store may record it in the background and complete at once).</returns>
    ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default);

    /// <summary>Records a TCP state change by compare-and-set, as <see cref="INatStore.UpdateState"/>.</summary>
    /// <param name="key">Either key of the connection.</param>
    /// <param name="expected">The flags the caller's change was computed from.</param>
    /// <param name="flags">The connection's new flags.</param>
    /// <param name="now">The time of the packet that changed the state.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The flags the connection had before the call (the update was made when they equal <paramref name="expected"/>), or null when no connection has the key.</returns>
    ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now, CancellationToken cancellationToken = default);

    /// <summary>Removes the connection with <paramref name="key"/>, both directions.</summary>
    /// <param name="key">Either key of the connection.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The connection removed, or <c>default</c> when none.</returns>
    ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default);

    /// <summary>True when a live connection has <paramref name="key"/>.</summary>
    /// <param name="key">The key asked about.</param>
    /// <param name="expiry">Which connections count as expired (absent).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>True when a live connection has the key.</returns>
    ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default);

    /// <summary>Removes every connection.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Completes when done.</returns>
    ValueTask ClearAsync(CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the connections, for the fallback of <c>RemoveConnections</c>.</summary>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    /// <returns>The connections (expired ones may be included).</returns>
    IAsyncEnumerable<NatConnection> GetConnectionsAsync(CancellationToken cancellationToken = default);
}
