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
/// <item>A connection whose <see cref="NatConnection.LastSeen"/> is below <c>expiredBefore</c> is treated as
/// absent. This store reclaims such connections lazily, when a lookup or insert meets them.</item>
/// </list>
/// It implements no optional capability, so the generated translator uses the contract's fallbacks (a scan for
/// <c>RemoveConnections</c>, a loop for batches). Sealed, so the translator's calls are direct.
/// </remarks>
public sealed class DictionaryNatStore : INatStore
{
    // Both keys of a connection point at the same entry; the entry knows which key is which.
    private readonly Dictionary<FlowKey, NatConnection> _byKey = new();
    private readonly Lock _lock = new();

    /// <summary>How many connections the store holds (expired ones not yet reclaimed included).</summary>
    public int Count
    {
        get { lock (_lock) return _byKey.Count / 2; }
    }

    /// <inheritdoc/>
    public bool TryLookup(in FlowKey key, long expiredBefore, out NatLookup lookup)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out var connection))
            {
                if (connection.LastSeen >= expiredBefore)
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
    public NatInsertStatus TryInsert(in NatConnection connection, long expiredBefore, out NatLookup existing)
    {
        existing = default;
        lock (_lock)
        {
            var outbound = connection.OutboundKey;
            var reply = connection.ReplyKey;
            if (_byKey.TryGetValue(outbound, out var holder))
            {
                if (holder.LastSeen >= expiredBefore)
                {
                    existing = new NatLookup(holder, DirectionOf(holder, outbound));
                    return NatInsertStatus.OutboundTaken;
                }
                RemoveBothKeys(holder);
            }
            if (_byKey.TryGetValue(reply, out holder))
            {
                if (holder.LastSeen >= expiredBefore) return NatInsertStatus.ReplyTaken;
                RemoveBothKeys(holder);
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
            if (!_byKey.TryGetValue(key, out var connection)) return;
            var touched = connection.WithLastSeen(now);
            _byKey[connection.OutboundKey] = touched;
            _byKey[connection.ReplyKey] = touched;
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
    public bool Contains(in FlowKey key, long expiredBefore)
    {
        lock (_lock) return _byKey.TryGetValue(key, out var connection) && connection.LastSeen >= expiredBefore;
    }

    /// <inheritdoc/>
    public void Clear()
    {
        lock (_lock) _byKey.Clear();
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

    private void RemoveBothKeys(in NatConnection connection)
    {
        _byKey.Remove(connection.OutboundKey);
        _byKey.Remove(connection.ReplyKey);
    }
}

/// <summary>The translator generated for <see cref="DictionaryNatStore"/>.</summary>
[NatTranslator(typeof(DictionaryNatStore))]
public sealed partial class DictionaryNatTranslator;
