using System.Text;

namespace NatFramework.Stores.Redis;

/// <summary>
/// Where each connection of a table lives when the table is spread over shards (<see cref="RedisStoreOptions.Shards"/>),
/// and where a lookup looks.
/// </summary>
/// <remarks>
/// <para>A connection's two keys and its indexes must share one shard (one slot: a script is atomic only there), yet a
/// lookup has only a flow key, which may be either key of a connection. Placement therefore uses what both keys show:
/// a source-NAT (or hairpinned) connection lives in the shard of its inside host, which is the source of its outbound key,
/// and takes a public port whose remainder modulo the shard count is that shard's number, which is the destination port
/// of its reply key. A redirect lives in the shard of the public port it arrived at (its first packet's destination port),
/// and takes a public port of the same class for its reply key. A key is therefore in the shard of its source address or
/// in the shard of its destination port: at most two places, asked at once.</para>
/// <para>So an inside host's connections, its host limit and its endpoint-independent mappings are in one shard, and a
/// public endpoint (a mapping's, or a port forward's) is in exactly one shard too: the conflicts the insert script checks
/// stay atomic. The hash of an address is fixed (every router must agree on it), not randomized per process.</para>
/// </remarks>
internal sealed class TableShards
{
    private const int SlotCount = 16384;

    private readonly TableShard[] _shards;

    /// <summary>The shards of the table <paramref name="prefix"/> spread over <paramref name="count"/> shards.</summary>
    public TableShards(string prefix, int count)
    {
        _shards = new TableShard[count];
        if (count == 1)
        {
            _shards[0] = new TableShard(0, "{" + prefix + "}"); // the layout of an unsharded table
            return;
        }
        for (int i = 0; i < count; i++) _shards[i] = new TableShard(i, "{" + TagInSlotRange(prefix, i, count) + "}");
    }

    /// <summary>Every shard.</summary>
    public IReadOnlyList<TableShard> All => _shards;

    /// <summary>How many shards there are.</summary>
    public int Count => _shards.Length;

    /// <summary>The shard of an inside host's source-NAT connections.</summary>
    public TableShard OfHost(Ipv4Address host) => _shards[HostShard(host, _shards.Length)];

    /// <summary>The shard of connections whose public port (ICMP: identifier) is <paramref name="port"/>.</summary>
    public TableShard OfPort(ushort port) => _shards[port % _shards.Length];

    /// <summary>The shard a connection lives in.</summary>
    public TableShard Of(in NatConnection connection)
        => connection.IsRedirect ? OfPort(connection.Outbound.DestinationPort) : OfHost(connection.Outbound.Source);

    /// <summary>The ports a new connection with outbound flow <paramref name="outbound"/> may take.</summary>
    public PortClass ClassOf(in FlowKey outbound, bool redirect)
        => _shards.Length == 1 ? PortClass.Any
            : new PortClass(redirect ? outbound.DestinationPort % _shards.Length : HostShard(outbound.Source, _shards.Length), _shards.Length);

    /// <summary>The shards that may hold <paramref name="key"/>: its source address's, and its destination port's when that differs (else null).</summary>
    public (TableShard First, TableShard? Second) CandidatesOf(in FlowKey key)
    {
        var bySource = OfHost(key.Source);
        var byPort = OfPort(key.DestinationPort);
        return (bySource, ReferenceEquals(bySource, byPort) ? null : byPort);
    }

    /// <summary>The other shard that could hold <paramref name="key"/> besides <paramref name="own"/>, or null.</summary>
    public TableShard? OtherCandidate(in FlowKey key, TableShard own)
    {
        var (first, second) = CandidatesOf(key);
        return ReferenceEquals(first, own) ? second : first;
    }

    /// <summary>A fixed hash of an address (a finalizer that spreads neighbouring addresses), reduced to a shard number.</summary>
    private static int HostShard(Ipv4Address host, int count)
    {
        if (count == 1) return 0;
        uint h = host.Value;
        h ^= h >> 16;
        h *= 0x7feb352d;
        h ^= h >> 15;
        h *= 0x846ca68b;
        h ^= h >> 16;
        return (int)(h % (uint)count);
    }

    /// <summary>
    /// The hash tag of shard <paramref name="shard"/>: <c>prefix.shard.n</c> with the smallest n whose slot lies in the
    /// shard's equal part of the slot space. Masters of a cluster made by <c>redis-cli --cluster create</c> (or balanced
    /// by <c>--cluster rebalance</c>) own equal consecutive parts, so shards land on masters evenly; deterministic, so
    /// every router computes the same tags.
    /// </summary>
    private static string TagInSlotRange(string prefix, int shard, int count)
    {
        int from = shard * SlotCount / count, to = (shard + 1) * SlotCount / count;
        for (int n = 0; ; n++)
        {
            string tag = $"{prefix}.{shard}.{n}";
            int slot = HashSlot(tag);
            if (slot >= from && slot < to) return tag;
        }
    }

    /// <summary>The Redis Cluster slot of a hash tag's content: CRC-16/XMODEM (polynomial 0x1021, start 0) modulo 16384.</summary>
    internal static int HashSlot(string tagContent)
    {
        int crc = 0;
        foreach (byte b in Encoding.UTF8.GetBytes(tagContent))
        {
            crc ^= b << 8;
            for (int bit = 0; bit < 8; bit++) crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            crc &= 0xFFFF;
        }
        return crc % SlotCount;
    }
}
