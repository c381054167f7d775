namespace NatFramework.Stores.LiteDb;

/// <summary>
/// The in-memory side of the table, which answers every lookup: each connection under both of its keys, each inside
/// host's connections, and per protocol a count and a recency list (least recently seen first), so that a full table
/// finds its oldest connection — the one that may have expired — in O(1). Not thread-safe: the store locks around it.
/// </summary>
internal sealed class ConnectionIndex
{
    private readonly Dictionary<FlowKey, Entry> _byKey = new();
    private readonly Dictionary<Ipv4Address, HashSet<Entry>> _byHost = new();
    private readonly Recency _tcp = new(), _udp = new(), _icmp = new();

    /// <summary>One connection, reachable under both keys, linked into its protocol's recency list.</summary>
    public sealed class Entry(NatConnection connection)
    {
        public NatConnection Connection = connection;
        public Entry? Older, Newer;
    }

    /// <summary>A doubly linked list, oldest at <see cref="Oldest"/>.</summary>
    private sealed class Recency
    {
        public Entry? Oldest, Newest;
        public int Count;

        public void Append(Entry entry)
        {
            entry.Older = Newest;
            entry.Newer = null;
            if (Newest is null) Oldest = entry; else Newest.Newer = entry;
            Newest = entry;
            Count++;
        }

        public void Unlink(Entry entry)
        {
            if (entry.Older is null) Oldest = entry.Newer; else entry.Older.Newer = entry.Newer;
            if (entry.Newer is null) Newest = entry.Older; else entry.Newer.Older = entry.Older;
            entry.Older = entry.Newer = null;
            Count--;
        }
    }

    private Recency RecencyOf(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcp,
        NatProtocol.Udp => _udp,
        _ => _icmp,
    };

    /// <summary>Connections held.</summary>
    public int Count => _tcp.Count + _udp.Count + _icmp.Count;

    /// <summary>Connections of <paramref name="protocol"/> held.</summary>
    public int CountOf(NatProtocol protocol) => RecencyOf(protocol).Count;

    /// <summary>The connection of <paramref name="protocol"/> seen longest ago, or null.</summary>
    public Entry? OldestOf(NatProtocol protocol) => RecencyOf(protocol).Oldest;

    public bool TryGet(in FlowKey key, out Entry entry) => _byKey.TryGetValue(key, out entry!);

    /// <summary>Adds a connection whose keys are both free, as the newest of its protocol.</summary>
    public Entry Add(in NatConnection connection)
    {
        var entry = new Entry(connection);
        _byKey.Add(connection.OutboundKey, entry);
        _byKey.Add(connection.ReplyKey, entry);
        if (!_byHost.TryGetValue(connection.InsideHost, out var ofHost)) _byHost[connection.InsideHost] = ofHost = new HashSet<Entry>();
        ofHost.Add(entry);
        RecencyOf(connection.Protocol).Append(entry);
        return entry;
    }

    public void Remove(Entry entry)
    {
        var connection = entry.Connection;
        _byKey.Remove(connection.OutboundKey);
        _byKey.Remove(connection.ReplyKey);
        if (_byHost.TryGetValue(connection.InsideHost, out var ofHost) && ofHost.Remove(entry) && ofHost.Count == 0) _byHost.Remove(connection.InsideHost);
        RecencyOf(connection.Protocol).Unlink(entry);
    }

    /// <summary>Records traffic: a new last-seen time, and the connection becomes the newest of its protocol.</summary>
    public void Touch(Entry entry, long now)
    {
        entry.Connection = entry.Connection.WithLastSeen(now);
        var recency = RecencyOf(entry.Connection.Protocol);
        recency.Unlink(entry);
        recency.Append(entry);
    }

    /// <summary>The connections of <paramref name="host"/>, as a copy the caller may remove from the index while walking.</summary>
    public Entry[] OfHost(Ipv4Address host) => _byHost.TryGetValue(host, out var ofHost) ? [.. ofHost] : [];

    /// <summary>Every connection, once each.</summary>
    public List<NatConnection> Snapshot()
    {
        var all = new List<NatConnection>(Count);
        foreach (var recency in new[] { _tcp, _udp, _icmp })
            for (var entry = recency.Oldest; entry is not null; entry = entry.Newer) all.Add(entry.Connection);
        return all;
    }

    public void Clear()
    {
        _byKey.Clear();
        _byHost.Clear();
        foreach (var recency in new[] { _tcp, _udp, _icmp })
        {
            recency.Oldest = recency.Newest = null;
            recency.Count = 0;
        }
    }
}
