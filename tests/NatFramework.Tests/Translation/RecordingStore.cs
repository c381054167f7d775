namespace NatFramework.Tests.Translation;

/// <summary>
/// A store that records how the generated translator calls it. Its capabilities are public methods of the exact
/// shape (no capability interfaces), so these tests also show the generator detecting capabilities by shape.
/// </summary>
public sealed class RecordingStore : INatStore
{
    private readonly Dictionary<FlowKey, NatConnection> _byKey = new();

    public int Touches { get; private set; }
    public int Lookups { get; private set; }
    public int BatchLookups { get; private set; }
    public int HostIndexRemovals { get; private set; }
    public NatTimeouts? ConfiguredExpiry { get; private set; }
    public bool ConfigureExpiryCalled { get; private set; }

    public int StateUpdates { get; private set; }

    /// <summary>When set, lookups report these flags instead of the stored ones: a stale cache, or another router's older copy.</summary>
    public NatConnectionFlags? StaleFlags { get; set; }

    /// <summary>When true, lookups and inserts throw <see cref="NatStoreUnavailableException"/>, as a store that lost its server.</summary>
    public bool Unreachable { get; set; }

    /// <summary>When set, inserts answer this (e.g. <see cref="NatInsertStatus.TableFull"/>) instead of inserting.</summary>
    public NatInsertStatus? RefuseInserts { get; set; }

    /// <summary>The stored connection that has <paramref name="key"/>.</summary>
    public NatConnection this[FlowKey key] => _byKey[key];

    public bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup)
    {
        Lookups++;
        if (Unreachable) throw new NatStoreUnavailableException("the test took the store away");
        if (_byKey.TryGetValue(key, out var c) && !expiry.IsExpired(c))
        {
            if (StaleFlags is { } stale) c = c.WithState(stale, c.LastSeen);
            lookup = new NatLookup(c, key.Equals(c.OutboundKey) ? FlowDirection.Outbound : FlowDirection.Reply);
            return true;
        }
        lookup = default;
        return false;
    }

    public void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results)
    {
        BatchLookups++;
        for (int i = 0; i < keys.Length; i++)
        {
            TryLookup(keys[i], expiry, out results[i]);
            Lookups--;
        }
    }

    public int RemoveConnections(Ipv4Address host, List<NatConnection> removed)
    {
        HostIndexRemovals++;
        foreach (var c in Connections.Where(c => c.Involves(host)).ToList())
        {
            _byKey.Remove(c.OutboundKey);
            _byKey.Remove(c.ReplyKey);
            removed.Add(c);
        }
        return removed.Count;
    }

    public void ConfigureExpiry(NatTimeouts? timeouts)
    {
        ConfigureExpiryCalled = true;
        ConfiguredExpiry = timeouts;
    }

    public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing)
    {
        existing = default;
        if (Unreachable) throw new NatStoreUnavailableException("the test took the store away");
        if (RefuseInserts is { } refusal) return refusal;
        if (_byKey.TryGetValue(connection.OutboundKey, out var held) && !rules.Expiry.IsExpired(held))
        {
            existing = new NatLookup(held, connection.OutboundKey.Equals(held.OutboundKey) ? FlowDirection.Outbound : FlowDirection.Reply);
            return NatInsertStatus.OutboundTaken;
        }
        if (_byKey.TryGetValue(connection.ReplyKey, out held) && !rules.Expiry.IsExpired(held)) return NatInsertStatus.ReplyTaken;
        _byKey[connection.OutboundKey] = connection;
        _byKey[connection.ReplyKey] = connection;
        return NatInsertStatus.Inserted;
    }

    public void Touch(in FlowKey key, long now)
    {
        Touches++;
        if (!_byKey.TryGetValue(key, out var c)) return;
        _byKey[c.OutboundKey] = _byKey[c.ReplyKey] = c.WithLastSeen(now);
    }

    // Keeps no mappings: this store records how it is called; the conformance suite checks mappings on the real stores.
    public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping)
    {
        mapping = default;
        return false;
    }

    public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now)
    {
        StateUpdates++;
        if (!_byKey.TryGetValue(key, out var c)) return null;
        if (c.Flags == expected) _byKey[c.OutboundKey] = _byKey[c.ReplyKey] = c.WithState(flags, now);
        return c.Flags;
    }

    public bool Remove(in FlowKey key, out NatConnection removed)
    {
        if (!_byKey.Remove(key, out removed)) return false;
        _byKey.Remove(removed.OutboundKey);
        _byKey.Remove(removed.ReplyKey);
        return true;
    }

    public bool Contains(in FlowKey key, in ExpiryCutoffs expiry) => _byKey.TryGetValue(key, out var c) && !expiry.IsExpired(c);

    public void Clear() => _byKey.Clear();

    public IEnumerable<NatConnection> Connections => _byKey.Where(p => p.Key.Equals(p.Value.OutboundKey)).Select(p => p.Value).ToList();
}

[NatTranslator(typeof(RecordingStore))]
public sealed partial class RecordingTranslator;
