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

    /// <summary>Translates one datagram in place (see <see cref="ISyncNatTranslator.Translate"/>).</summary>
    ValueTask<NatTranslateResult> TranslateAsync(Memory<byte> packet, CancellationToken cancellationToken = default);

    /// <summary>
    /// Translates many datagrams of one buffer in place: <c>packets[i]</c> is the range of the i-th datagram
    /// in <paramref name="buffer"/>, and its result goes to <c>results[i]</c>. Stores with a batch lookup
    /// answer the whole batch in one call (one round trip for a remote store).
    /// </summary>
    ValueTask TranslateBatchAsync(Memory<byte> buffer, ReadOnlyMemory<Range> packets, Memory<NatTranslateResult> results, CancellationToken cancellationToken = default);

    /// <summary>Source NAT: creates both directions of the connection of <paramref name="packet"/> via <paramref name="publicAddress"/>.</summary>
    ValueTask<NatAddResult> AddNatAsync(ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports = null, CancellationToken cancellationToken = default);

    /// <summary>Destination NAT (port forward): <paramref name="packet"/>'s flow is sent from <paramref name="publicAddress"/> to <paramref name="target"/>:<paramref name="targetPort"/>.</summary>
    ValueTask<NatAddResult> AddRedirectAsync(ReadOnlyMemory<byte> packet, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort, IPortAllocator? ports = null, CancellationToken cancellationToken = default);

    /// <summary>Removes every connection whose inside host is <paramref name="host"/> (see <see cref="NatConnection.InsideHost"/>), both directions.</summary>
    ValueTask<FreedPorts> RemoveConnectionsAsync(Ipv4Address host, CancellationToken cancellationToken = default);

    /// <summary>True when no live connection has this flow as one of its keys (mirage-nat's <c>is_port_free</c>).</summary>
    ValueTask<bool> IsPortFreeAsync(NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort, CancellationToken cancellationToken = default);

    /// <summary>Removes every connection.</summary>
    ValueTask ResetAsync(CancellationToken cancellationToken = default);
}

/// <summary>The synchronous surface of a translator generated for a synchronous store: no async machinery per packet.</summary>
public interface ISyncNatTranslator : INatTranslator
{
    /// <summary>
    /// Translates one datagram in place: addresses, ports (ICMP identifier), TTL and checksums for TCP, UDP
    /// and ICMP queries; ICMP errors through the connection of the datagram they carry. Never throws on packet bytes.
    /// </summary>
    NatTranslateResult Translate(Span<byte> packet);

    /// <summary>Translates many datagrams of one buffer (see <see cref="INatTranslator.TranslateBatchAsync"/>).</summary>
    void TranslateBatch(Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results);

    /// <summary>Source NAT (see <see cref="INatTranslator.AddNatAsync"/>).</summary>
    NatAddResult AddNat(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, IPortAllocator? ports = null);

    /// <summary>Destination NAT (see <see cref="INatTranslator.AddRedirectAsync"/>).</summary>
    NatAddResult AddRedirect(ReadOnlySpan<byte> packet, Ipv4Address publicAddress, Ipv4Address target, ushort targetPort, IPortAllocator? ports = null);

    /// <summary>Removes every connection of a host (see <see cref="INatTranslator.RemoveConnectionsAsync"/>).</summary>
    FreedPorts RemoveConnections(Ipv4Address host);

    /// <summary>See <see cref="INatTranslator.IsPortFreeAsync"/>.</summary>
    bool IsPortFree(NatProtocol protocol, Ipv4Address source, Ipv4Address destination, ushort sourcePort, ushort destinationPort);

    /// <summary>Removes every connection.</summary>
    void Reset();
}
