namespace NatFramework.Stores.LiteDb;

/// <summary>
/// The in-memory side of the table, which answers every lookup: each connection under both of its keys, each inside
/// host's connections (counted per protocol, for limits), and recency lists (least recently seen first) — one per
/// protocol, TCP's split into established and transitory connections — so a full table finds the connection to reclaim
/// or evict in O(1) — and the endpoint-independent mappings: each inside endpoint's public endpoint and connections, the
/// reverse, and each mapping's connections per remote address (what address-dependent filtering asks). Not
/// thread-safe: the store locks around it.
/// </summary>
internal sealed class ConnectionIndex
{
    private readonly Dictionary<FlowKey, Entry> _byKey = new();
    private readonly Dictionary<Ipv4Address, HostConnections> _byHost = new();
    private readonly Dictionary<(NatProtocol, Ipv4Address, ushort), Mapping> _mappings = new();
    private readonly Dictionary<(NatProtocol, Ipv4Address, ushort), (Ipv4Address Address, ushort Port)> _insideOfPublic = new();
    private readonly Dictionary<(NatProtocol, Ipv4Address, ushort, Ipv4Address), HashSet<Entry>> _toRemote = new();
    private readonly Recency _tcp = new(), _tcpTransitory = new(), _udp = new(), _icmp = new();

    /// <summary>One connection, reachable under both keys, linked into a recency list.</summary>
    public sealed class Entry(NatConnection connection)
    {
        public NatConnection Connection = connection;
        public Entry? Older, Newer;
    }

    /// <summary>A host's connections, and how many of each protocol are source NAT (what per-host limits count).</summary>
    private sealed class HostConnections
    {
        public readonly HashSet<Entry> Entries = new();
        public readonly int[] Counts = new int[3];
    }

    /// <summary>An inside endpoint's mapping: its public endpoint and its connections (live or not reclaimed yet).</summary>
    private sealed class Mapping(Ipv4Address publicAddress, ushort publicPort)
    {
        public readonly Ipv4Address PublicAddress = publicAddress;
        public readonly ushort PublicPort = publicPort;
        public readonly HashSet<Entry> Entries = new();
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

    private static int Slot(NatProtocol protocol) => protocol switch { NatProtocol.Tcp => 0, NatProtocol.Udp => 1, _ => 2 };

    private Recency RecencyOf(in NatConnection connection) => connection.Protocol switch
    {
        NatProtocol.Tcp => connection.IsTransitory ? _tcpTransitory : _tcp,
        NatProtocol.Udp => _udp,
        _ => _icmp,
    };

    /// <summary>Connections held.</summary>
    public int Count => _tcp.Count + _tcpTransitory.Count + _udp.Count + _icmp.Count;

    /// <summary>Connections of <paramref name="protocol"/> held.</summary>
    public int CountOf(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcp.Count + _tcpTransitory.Count,
        NatProtocol.Udp => _udp.Count,
        _ => _icmp.Count,
    };

    /// <summary>Source-NAT connections of <paramref name="protocol"/> whose inside host is <paramref name="host"/> (expired ones not yet reclaimed included).</summary>
    public int CountOf(Ipv4Address host, NatProtocol protocol) => _byHost.TryGetValue(host, out var connections) ? connections.Counts[Slot(protocol)] : 0;

    /// <summary>The established (for TCP) connection of <paramref name="protocol"/> seen longest ago, or null.</summary>
    public Entry? OldestOf(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => _tcp.Oldest,
        NatProtocol.Udp => _udp.Oldest,
        _ => _icmp.Oldest,
    };

    /// <summary>The transitory TCP connection seen longest ago, or null.</summary>
    public Entry? OldestTransitory => _tcpTransitory.Oldest;

    public bool TryGet(in FlowKey key, out Entry entry) => _byKey.TryGetValue(key, out entry!);

    /// <summary>Adds a connection whose keys are both free, as the newest of its list.</summary>
    public Entry Add(in NatConnection connection)
    {
        var entry = new Entry(connection);
        _byKey.Add(connection.OutboundKey, entry);
        _byKey.Add(connection.ReplyKey, entry);
        if (!_byHost.TryGetValue(connection.InsideHost, out var ofHost)) _byHost[connection.InsideHost] = ofHost = new HostConnections();
        ofHost.Entries.Add(entry);
        if (!connection.IsRedirect) ofHost.Counts[Slot(connection.Protocol)]++;
        RecencyOf(connection).Append(entry);
        if (IsMapped(connection))
        {
            var inside = InsideOf(connection);
            if (!_mappings.TryGetValue(inside, out var mapping))
            {
                _mappings[inside] = mapping = new Mapping(connection.Translated.Source, connection.Translated.SourcePort);
                _insideOfPublic[PublicOf(connection)] = (inside.Item2, inside.Item3);
            }
            mapping.Entries.Add(entry);
            var remote = RemoteOf(connection);
            if (!_toRemote.TryGetValue(remote, out var toRemote)) _toRemote[remote] = toRemote = new HashSet<Entry>();
            toRemote.Add(entry);
        }
        return entry;
    }

    private static bool IsMapped(in NatConnection connection) => (connection.Flags & NatConnectionFlags.EndpointMapped) != 0;

    private static (NatProtocol, Ipv4Address, ushort) InsideOf(in NatConnection connection)
        => (connection.Protocol, connection.Outbound.Source, connection.Outbound.SourcePort);

    private static (NatProtocol, Ipv4Address, ushort) PublicOf(in NatConnection connection)
        => (connection.Protocol, connection.Translated.Source, connection.Translated.SourcePort);

    private static (NatProtocol, Ipv4Address, ushort, Ipv4Address) RemoteOf(in NatConnection connection)
        => (connection.Protocol, connection.Translated.Source, connection.Translated.SourcePort, connection.Outbound.Destination);

    /// <summary>
    /// The first live connection of the mapping of the inside endpoint <paramref name="address"/>:<paramref name="port"/>
    /// (null when none), and the mapping's public endpoint. Expired connections met before it go to
    /// <paramref name="expired"/>, for the caller to reclaim: a later walk does not meet them again, so walks cost O(1)
    /// amortised however many connections a mapping has.
    /// </summary>
    public Entry? FirstLiveOfMapping(NatProtocol protocol, Ipv4Address address, ushort port, in ExpiryCutoffs expiry, List<Entry> expired,
        out Ipv4Address publicAddress, out ushort publicPort)
    {
        if (_mappings.TryGetValue((protocol, address, port), out var mapping))
        {
            (publicAddress, publicPort) = (mapping.PublicAddress, mapping.PublicPort);
            return FirstLive(mapping.Entries, expiry, expired);
        }
        (publicAddress, publicPort) = (default, 0);
        return null;
    }

    private static Entry? FirstLive(HashSet<Entry> entries, in ExpiryCutoffs expiry, List<Entry> expired)
    {
        foreach (var entry in entries)
        {
            if (!expiry.IsExpired(entry.Connection)) return entry;
            expired.Add(entry);
        }
        return null;
    }

    /// <summary>The inside endpoint whose mapping has the public endpoint <paramref name="publicAddress"/>:<paramref name="publicPort"/>.</summary>
    public bool TryGetInsideOf(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, out Ipv4Address address, out ushort port)
    {
        bool found = _insideOfPublic.TryGetValue((protocol, publicAddress, publicPort), out var inside);
        (address, port) = inside;
        return found;
    }

    /// <summary>The first live connection of a public endpoint's mapping that goes to <paramref name="remote"/> (see <see cref="FirstLiveOfMapping"/>).</summary>
    public Entry? FirstLiveToRemote(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remote, in ExpiryCutoffs expiry, List<Entry> expired)
        => _toRemote.TryGetValue((protocol, publicAddress, publicPort, remote), out var entries) ? FirstLive(entries, expiry, expired) : null;

    public void Remove(Entry entry)
    {
        var connection = entry.Connection;
        _byKey.Remove(connection.OutboundKey);
        _byKey.Remove(connection.ReplyKey);
        if (_byHost.TryGetValue(connection.InsideHost, out var ofHost) && ofHost.Entries.Remove(entry))
        {
            if (!connection.IsRedirect) ofHost.Counts[Slot(connection.Protocol)]--;
            if (ofHost.Entries.Count == 0) _byHost.Remove(connection.InsideHost);
        }
        RecencyOf(connection).Unlink(entry);
        if (IsMapped(connection))
        {
            var inside = InsideOf(connection);
            if (_mappings.TryGetValue(inside, out var mapping) && mapping.Entries.Remove(entry) && mapping.Entries.Count == 0)
            {
                _mappings.Remove(inside);
                _insideOfPublic.Remove(PublicOf(connection));
            }
            var remote = RemoteOf(connection);
            if (_toRemote.TryGetValue(remote, out var toRemote) && toRemote.Remove(entry) && toRemote.Count == 0) _toRemote.Remove(remote);
        }
    }

    /// <summary>Records traffic (a new last-seen time, and, for TCP, perhaps a new state): the connection becomes the newest of its list.</summary>
    public void Update(Entry entry, in NatConnection updated)
    {
        RecencyOf(entry.Connection).Unlink(entry);
        entry.Connection = updated;
        RecencyOf(updated).Append(entry);
    }

    /// <summary>The connections of <paramref name="host"/>, as a copy the caller may remove from the index while walking.</summary>
    public Entry[] OfHost(Ipv4Address host) => _byHost.TryGetValue(host, out var ofHost) ? [.. ofHost.Entries] : [];

    /// <summary>Every connection, once each.</summary>
    public List<NatConnection> Snapshot()
    {
        var all = new List<NatConnection>(Count);
        foreach (var recency in new[] { _tcp, _tcpTransitory, _udp, _icmp })
            for (var entry = recency.Oldest; entry is not null; entry = entry.Newer) all.Add(entry.Connection);
        return all;
    }

    public void Clear()
    {
        _byKey.Clear();
        _byHost.Clear();
        _mappings.Clear();
        _insideOfPublic.Clear();
        _toRemote.Clear();
        foreach (var recency in new[] { _tcp, _tcpTransitory, _udp, _icmp })
        {
            recency.Oldest = recency.Newest = null;
            recency.Count = 0;
        }
    }
}
