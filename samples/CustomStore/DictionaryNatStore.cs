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
            if (!connection.IsRedirect)
            {
                var hostKey = (connection.InsideHost, connection.Protocol);
                if (rules.HostLimit > 0 && _byHost.TryGetValue(hostKey, out var counted) && counted.Count >= rules.HostLimit)
                {
                    // Expired connections do not count: reclaim the host's, then count again.
                    foreach (var key in counted.ToList())
                        if (rules.Expiry.IsExpired(_byKey[key])) RemoveBothKeys(_byKey[key]);
                    if (counted.Count >= rules.HostLimit) return NatInsertStatus.HostLimitReached;
                }
                // Fetched again: reclaiming the host's last connections removed its set.
                if (!_byHost.TryGetValue(hostKey, out var ofHost)) _byHost[hostKey] = ofHost = new HashSet<FlowKey>();
                ofHost.Add(outbound);
            }
            _byKey[outbound] = connection;
            _byKey[reply] = connection;
            return NatInsertStatus.Inserted;
        }
    }

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
    }
}

/// <summary>The translator generated for <see cref="DictionaryNatStore"/>.</summary>
[NatTranslator(typeof(DictionaryNatStore))]
public sealed partial class DictionaryNatTranslator;
