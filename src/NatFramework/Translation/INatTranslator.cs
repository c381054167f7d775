namespace NatFramework;

/// <summary>
/// The operation surface every generated translator offers, whatever its store, so a host can swap
/// stores by configuration alone. For a synchronous store the calls complete synchronously without
/// allocating; such translators also implement <see cref="ISyncNatTranslator"/>.
/// </summary>
public interface INatTranslator
{
    /// <summary>The translator's validated settings.</summary>
    NatOptions Options { get; }

    /// <summary>
    /// What the translator does with packets of new flows (see <see cref="NatPolicy"/>): starts as
    /// <see cref="NatOptions.Policy"/>; setting it validates the new policy and applies it from the next packet on,
    /// without stopping traffic.
    /// </summary>
    /// <exception cref="ArgumentException">The new policy has an unusable rule or limit.</exception>
    NatPolicy Policy { get; set; }

    /// <summary>Translates one datagram in place (see <see cref="ISyncNatTranslator.Translate"/>).</summary>
    /// <param name="packet">The datagram; rewritten in place when translated.</param>
    /// <param name="side">Where it arrived, when the host knows: the policy creates connections only for the right side.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>What happened to the packet.</returns>
    ValueTask<NatTranslateResult> TranslateAsync(Memory<byte> packet, NatSide side = NatSide.Unknown, CancellationToken cancellationToken = default);

    /// <summary>
    /// Translates many datagrams of one buffer in place: <c>packets[i]</c> is the range of the i-th datagram
    /// in <paramref name="buffer"/>, and its result goes to <c>results[i]</c>. Stores with a batch lookup
    /// answer the whole batch in one call (one round trip for a remote store).
    /// </summary>
    /// <param name="buffer">The buffer holding the datagrams.</param>
    /// <param name="packets">Where each datagram is.</param>
    /// <param name="results">One result per datagram.</param>
    /// <param name="side">Where they arrived, when the host knows.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>Completes when every result is written.</returns>
    /// <exception cref="ArgumentException"><paramref name="results"/> is shorter than <paramref name="packets"/>.</exception>
    ValueTask TranslateBatchAsync(Memory<byte> buffer, ReadOnlyMemory<Range> packets, Memory<NatTranslateResult> results, NatSide side = NatSide.Unknown,
        CancellationToken cancellationToken = default);

    /// <summary>Source NAT: creates both directions of the connection of <paramref name="packet"/> via <paramref name="publicAddress"/>.</summary>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="publicAddress">The translated source address.</param>
    /// <param name="ports">Chooses the public port; the translator's allocator when null.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>Ok with the connection, Overlap, CannotNat with the reason, TableFull or StoreUnavailable.</returns>
    ValueTask<NatAddResult> AddNatAsync(ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports = null, CancellationToken cancellationToken = default);

    /// <summary>Destination NAT (port forward): <paramref name="packet"/>'s flow is sent from <paramref name="publicAddress"/> to <paramref name="target"/>:<paramref name="targetPort"/>.</summary>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="publicAddress">The source address the forwarded packets get.</param>
    /// <param name="target">The inside host.</param>
    /// <param name="targetPort">The port on it (not 0).</param>
    /// <param name="ports">Chooses the source port; the translator's allocator when null.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>Ok with the connection, Overlap, CannotNat with the reason, TableFull or StoreUnavailable.</returns>
    ValueTask<NatAddResult> AddRedirectAsync(ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort, IPortAllocator? ports = null,
        CancellationToken cancellationToken = default);

    /// <summary>Removes every connection whose inside host is <paramref name="host"/> (see <see cref="NatConnection.InsideHost"/>), both directions.</summary>
    /// <param name="host">The inside host.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>The freed public ports and identifiers, and the connections removed.</returns>
    ValueTask<FreedPorts> RemoveConnectionsAsync(Ipv4Address host, CancellationToken cancellationToken = default);

    /// <summary>True when no live connection has this flow as one of its keys (mirage-nat's <c>is_port_free</c>).</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="source">The flow's source address.</param>
    /// <param name="destination">The flow's destination address.</param>
    /// <param name="sourcePort">The source port (ICMP: the identifier).</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>True when the flow is free.</returns>
    ValueTask<bool> IsPortFreeAsync(NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort,
        CancellationToken cancellationToken = default);

    /// <summary>Removes every connection.</summary>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>Completes when done.</returns>
    ValueTask ResetAsync(CancellationToken cancellationToken = default);
}

/// <summary>The synchronous surface of a translator generated for a synchronous store: no async machinery per packet.</summary>
public interface ISyncNatTranslator : INatTranslator
{
    /// <summary>
    /// Translates one datagram in place: addresses, ports (ICMP identifier), TTL and checksums for TCP, UDP and ICMP
    /// queries; ICMP errors through the connection of the datagram they carry; TCP state followed. A packet of a new flow
    /// gets its connection by the <see cref="INatTranslator.Policy"/>, in the same call. Never throws on packet bytes.
    /// </summary>
    /// <param name="packet">The datagram; rewritten in place when translated.</param>
    /// <param name="side">Where it arrived, when the host knows: the policy creates connections only for the right side.</param>
    /// <returns>What happened to the packet.</returns>
    NatTranslateResult Translate(Span<byte> packet, NatSide side = NatSide.Unknown);

    /// <summary>Translates many datagrams of one buffer (see <see cref="INatTranslator.TranslateBatchAsync"/>).</summary>
    /// <param name="buffer">The buffer holding the datagrams.</param>
    /// <param name="packets">Where each datagram is.</param>
    /// <param name="results">One result per datagram.</param>
    /// <param name="side">Where they arrived, when the host knows.</param>
    /// <exception cref="ArgumentException"><paramref name="results"/> is shorter than <paramref name="packets"/>.</exception>
    void TranslateBatch(Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, NatSide side = NatSide.Unknown);

    /// <summary>Source NAT: creates both directions of the connection of <paramref name="packet"/> via <paramref name="publicAddress"/>.</summary>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="publicAddress">The translated source address.</param>
    /// <param name="ports">Chooses the public port; the translator's allocator when null.</param>
    /// <returns>Ok with the connection, Overlap, CannotNat with the reason, TableFull or StoreUnavailable.</returns>
    NatAddResult AddNat(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports = null);

    /// <summary>Destination NAT (port forward): the flow is sent from <paramref name="publicAddress"/> to <paramref name="target"/>:<paramref name="targetPort"/>.</summary>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="publicAddress">The source address the forwarded packets get.</param>
    /// <param name="target">The inside host.</param>
    /// <param name="targetPort">The port on it (not 0).</param>
    /// <param name="ports">Chooses the source port; the translator's allocator when null.</param>
    /// <returns>Ok with the connection, Overlap, CannotNat with the reason, TableFull or StoreUnavailable.</returns>
    NatAddResult AddRedirect(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort, IPortAllocator? ports = null);

    /// <summary>Removes every connection whose inside host is <paramref name="host"/>, both directions.</summary>
    /// <param name="host">The inside host.</param>
    /// <returns>The freed public ports and identifiers, and the connections removed.</returns>
    FreedPorts RemoveConnections(Ipv4Address host);

    /// <summary>True when no live connection has this flow as one of its keys (mirage-nat's <c>is_port_free</c>).</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="source">The flow's source address.</param>
    /// <param name="destination">The flow's destination address.</param>
    /// <param name="sourcePort">The source port (ICMP: the identifier).</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <returns>True when the flow is free.</returns>
    bool IsPortFree(NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort);

    /// <summary>Removes every connection.</summary>
    void Reset();
}
