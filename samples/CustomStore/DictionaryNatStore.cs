using NatFramework;

namespace CustomStore;

/// <summary>
/// The smallest complete NAT store: one dictionary from key to connection, one lock. This is the how-to for
/// writing your own store; every rule it follows is stated where it applies.
/// </summary>
/// <remarks>
/// Rules of the contract (see <see cref="INatStore"/>):
/// <list type="bullet">
/// <item>Each connection is reachable under two keys, <see cref="NatConnection.OutboundKey"/> and
/// <see cref="NatConnection.ReplyKey"/>; both are added and removed together, never one alone.</item>
/// <item>Every member may be called concurrently; here one lock makes each member atomic.</item>
/// <item>A connection that <see cref="ExpiryCutoffs.IsExpired"/> says is expired (by its protocol and TCP state) is
/// treated as absent. This store reclaims such connections lazily, when a lookup or insert meets them.</item>
/// <item>An insert respects the inside host's limit (<see cref="NatInsertRules.HostLimit"/>): counted per host and
/// protocol here, live source-NAT connections only (redirects take no public port and do not count).</item>
/// <item>Connections flagged <see cref="NatConnectionFlags.EndpointMapped"/> make up endpoint-independent mappings: one
/// public endpoint per inside endpoint, none shared between inside endpoints, kept while a connection lives. Here each
/// mapping is the set of its connections, so it ends with its last one however that goes.</item>
/// </list>
/// It holds as many connections as memory allows (no capacity), and implements no optional capability, so the generated
/// translator uses the contract's fallbacks (a scan for <c>RemoveConnections</c>, a loop for batches). Sealed, so the
/// translator's calls are direct.
/// </remarks>
public sealed class DictionaryNatStore : INatStore
{
    // Both keys of a connection point at the same entry; the entry knows which key is which.
    private readonly Dictionary<FlowKey, NatConnection> _byKey = new();
    // Each inside host's source-NAT connections (their outbound keys) per protocol: what a host limit counts.
    private readonly Dictionary<(Ipv4Address Host, NatProtocol Protocol), HashSet<FlowKey>> _byHost = new();
    // Each endpoint-independent mapping's connections (outbound keys) by inside endpoint, and each public endpoint's owner.
    private readonly Dictionary<(NatProtocol, Ipv4Address, ushort), HashSet<FlowKey>> _mappings = new();
    private readonly Dictionary<(NatProtocol, Ipv4Address, ushort), (Ipv4Address, ushort)> _ownerOfPublic = new();
    private readonly Lock _lock = new();

    /// <summary>How many connections the store holds (expired ones not yet reclaimed included).</summary>
    public int Count
    {
        get { lock (_lock) return _byKey.Count / 2; }
    }

    /// <inheritdoc/>
    public bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out var connection))
            {
                if (!expiry.IsExpired(connection))
                {
                    lookup = new NatLookup(connection, DirectionOf(connection, key));
                    return true;
                }
                RemoveBothKeys(connection);
            }
        }
        lookup = default;
        return false;
    }

    /// <inheritdoc/>
    public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing)
    {
        existing = default;
        lock (_lock)
        {
            var outbound = connection.OutboundKey;
            var reply = connection.ReplyKey;
            if (_byKey.TryGetValue(outbound, out var holder))
            {
                if (!rules.Expiry.IsExpired(holder))
                {
                    existing = new NatLookup(holder, DirectionOf(holder, outbound));
                    return NatInsertStatus.OutboundTaken;
                }
                RemoveBothKeys(holder);
            }
            if (_byKey.TryGetValue(reply, out holder))
            {
                if (!rules.Expiry.IsExpired(holder)) return NatInsertStatus.ReplyTaken;
                RemoveBothKeys(holder);
            }
            bool mapped = (connection.Flags & NatConnectionFlags.EndpointMapped) != 0;
            var inside = InsideOf(connection);
            if (mapped)
            {
                // One public endpoint per inside endpoint...
                if (LiveOfMapping(inside, rules.Expiry) is { } live && PublicOf(live) != PublicOf(connection))
                {
                    existing = new NatLookup(live, FlowDirection.Outbound);
                    return NatInsertStatus.MappingConflict;
                }
                // ...and no public endpoint of two inside endpoints.
                if (_ownerOfPublic.TryGetValue(PublicOf(connection), out var owner) && owner != (inside.Item2, inside.Item3)
                    && LiveOfMapping((connection.Protocol, owner.Item1, owner.Item2), rules.Expiry) is not null)
                    return NatInsertStatus.ReplyTaken;
            }
            var hostKey = (connection.InsideHost, connection.Protocol);
            if (!connection.IsRedirect && rules.HostLimit > 0 && _byHost.TryGetValue(hostKey, out var counted) && counted.Count >= rules.HostLimit)
            {
                // Expired connections do not count: reclaim the host's, then count again.
                foreach (var key in counted.ToList())
                    if (rules.Expiry.IsExpired(_byKey[key])) RemoveBothKeys(_byKey[key]);
                if (counted.Count >= rules.HostLimit) return NatInsertStatus.HostLimitReached;
            }
            // Every check passed: write the connection and the sets it belongs to (fetched again: reclaiming may have
            // removed a set that became empty).
            if (!connection.IsRedirect)
            {
                if (!_byHost.TryGetValue(hostKey, out var ofHost)) _byHost[hostKey] = ofHost = new HashSet<FlowKey>();
                ofHost.Add(outbound);
            }
            if (mapped)
            {
                if (!_mappings.TryGetValue(inside, out var ofMapping))
                {
                    _mappings[inside] = ofMapping = new HashSet<FlowKey>();
                    _ownerOfPublic[PublicOf(connection)] = (inside.Item2, inside.Item3);
                }
                ofMapping.Add(outbound);
            }
            _byKey[outbound] = connection;
            _byKey[reply] = connection;
            return NatInsertStatus.Inserted;
        }
    }

    /// <inheritdoc/>
    public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping)
    {
        mapping = default;
        lock (_lock)
        {
            if (!_ownerOfPublic.TryGetValue((protocol, publicAddress, publicPort), out var owner)) return false;
            var inside = (protocol, owner.Item1, owner.Item2);
            if (LiveOfMapping(inside, expiry) is null) return false;
            // A store serving many connections per mapping would keep them per remote address too (the LRU and LiteDB
            // stores do), so that this is not a walk over all of them.
            bool seen = false;
            foreach (var key in _mappings[inside])
                if (_byKey[key].Outbound.Destination == remoteAddress && !expiry.IsExpired(_byKey[key])) seen = true;
            mapping = new NatMapping(owner.Item1, owner.Item2, publicAddress, publicPort, seen);
            return true;
        }
    }

    /// <summary>A live connection of an inside endpoint's mapping, or null; expired ones met on the way are reclaimed.</summary>
    private NatConnection? LiveOfMapping((NatProtocol, Ipv4Address, ushort) inside, in ExpiryCutoffs expiry)
    {
        if (!_mappings.TryGetValue(inside, out var keys)) return null;
        NatConnection? live = null;
        List<NatConnection>? expired = null;
        foreach (var key in keys)
        {
            var connection = _byKey[key];
            if (!expiry.IsExpired(connection))
            {
                live = connection;
                break;
            }
            (expired ??= new()).Add(connection);
        }
        // Removed after the walk (it changes the set); each is met once, so walks stay short however big the mapping.
        if (expired is not null) foreach (var connection in expired) RemoveBothKeys(connection);
        return live;
    }

    private static (NatProtocol, Ipv4Address, ushort) InsideOf(in NatConnection connection) => (connection.Protocol, connection.Outbound.Source, connection.Outbound.SourcePort);

    private static (NatProtocol, Ipv4Address, ushort) PublicOf(in NatConnection connection) => (connection.Protocol, connection.Translated.Source, connection.Translated.SourcePort);

    /// <inheritdoc/>
    public void Touch(in FlowKey key, long now)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out var connection)) Replace(connection.WithLastSeen(now));
        }
    }

    /// <inheritdoc/>
    public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(key, out var connection)) return null;
            // Compare-and-set: a change computed from an older state is refused, and the caller computes it again.
            if (connection.Flags == expected) Replace(connection.WithState(flags, now));
            return connection.Flags;
        }
    }

    /// <inheritdoc/>
    public bool Remove(in FlowKey key, out NatConnection removed)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out removed))
            {
                RemoveBothKeys(removed);
                return true;
            }
        }
        return false;
    }

    /// <inheritdoc/>
    public bool Contains(in FlowKey key, in ExpiryCutoffs expiry)
    {
        lock (_lock) return _byKey.TryGetValue(key, out var connection) && !expiry.IsExpired(connection);
    }

    /// <inheritdoc/>
    public void Clear()
    {
        lock (_lock)
        {
            _byKey.Clear();
            _byHost.Clear();
            _mappings.Clear();
            _ownerOfPublic.Clear();
        }
    }

    /// <inheritdoc/>
    public IEnumerable<NatConnection> Connections
    {
        get
        {
            lock (_lock)
            {
                var snapshot = new List<NatConnection>(_byKey.Count / 2);
                foreach (var (key, connection) in _byKey)
                    if (key.Equals(connection.OutboundKey)) snapshot.Add(connection);
                return snapshot;
            }
        }
    }

    private static FlowDirection DirectionOf(in NatConnection connection, in FlowKey key)
        => key.Equals(connection.OutboundKey) ? FlowDirection.Outbound : FlowDirection.Reply;

    /// <summary>Stores a new version of a connection under both keys (its keys do not change).</summary>
    private void Replace(in NatConnection connection)
    {
        _byKey[connection.OutboundKey] = connection;
        _byKey[connection.ReplyKey] = connection;
    }

    private void RemoveBothKeys(in NatConnection connection)
    {
        _byKey.Remove(connection.OutboundKey);
        _byKey.Remove(connection.ReplyKey);
        var hostKey = (connection.InsideHost, connection.Protocol);
        if (_byHost.TryGetValue(hostKey, out var ofHost) && ofHost.Remove(connection.OutboundKey) && ofHost.Count == 0) _byHost.Remove(hostKey);
        var inside = InsideOf(connection);
        if ((connection.Flags & NatConnectionFlags.EndpointMapped) != 0 && _mappings.TryGetValue(inside, out var ofMapping)
            && ofMapping.Remove(connection.OutboundKey) && ofMapping.Count == 0)
        {
            _mappings.Remove(inside);
            _ownerOfPublic.Remove(PublicOf(connection));
        }
    }
}

/// <summary>The translator generated for <see cref="DictionaryNatStore"/>.</summary>
[NatTranslator(typeof(DictionaryNatStore))]
public sealed partial class DictionaryNatTranslator;
