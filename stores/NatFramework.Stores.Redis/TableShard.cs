using System.Buffers.Binary;
using System.Text;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

/// <summary>
/// One shard of a table: the keys under one hash tag, so one cluster slot, where the scripts run atomically. The key
/// layout below the tag is the same for every shard (see <see cref="LuaScripts"/>).
/// </summary>
internal sealed class TableShard
{
    private readonly byte[] _hostPrefix;
    private readonly byte[] _publicMappingPrefix, _remoteMappingPrefix;
    private readonly RedisKey[] _indexKeys = new RedisKey[18]; // by protocol number: 1 icmp, 6 tcp, 17 udp

    /// <summary>A shard under <paramref name="tag"/>, braces included.</summary>
    public TableShard(int number, string tag)
    {
        Number = number;
        Tag = tag;
        KeyPrefix = Encoding.UTF8.GetBytes(tag + ":k:");
        _hostPrefix = Encoding.UTF8.GetBytes(tag + ":h:");
        _publicMappingPrefix = Encoding.UTF8.GetBytes(tag + ":x:");
        _remoteMappingPrefix = Encoding.UTF8.GetBytes(tag + ":a:");
        foreach (var (protocol, name) in new[] { (NatProtocol.Icmp, "icmp"), (NatProtocol.Tcp, "tcp"), (NatProtocol.Udp, "udp") })
            _indexKeys[(int)protocol] = (RedisKey)(tag + ":e:" + name);
        Pattern = Encoding.UTF8.GetBytes(tag + ":*");
        ConnectionPattern = [.. KeyPrefix, (byte)'*'];
    }

    /// <summary>The shard's number, 0 … shards − 1: also the remainder of the public ports its connections take.</summary>
    public int Number { get; }

    /// <summary>The hash tag with its braces, as the scripts get it.</summary>
    public RedisValue Tag { get; }

    /// <summary><c>{tag}:k:</c>, the prefix of connection keys, as the refresh scripts get it.</summary>
    public byte[] KeyPrefix { get; }

    /// <summary>Every key of the shard (<c>{tag}:*</c>), for clearing.</summary>
    public byte[] Pattern { get; }

    /// <summary>The shard's connection keys (<c>{tag}:k:*</c>), for listing.</summary>
    public byte[] ConnectionPattern { get; }

    /// <summary>A connection key: <c>{tag}:k:</c> and the flow's 13 bytes.</summary>
    public RedisKey KeyOf(in FlowKey key)
    {
        var bytes = new byte[KeyPrefix.Length + RecordCodec.KeyLength];
        KeyPrefix.CopyTo(bytes, 0);
        RecordCodec.WriteKey(bytes.AsSpan(KeyPrefix.Length), key);
        return bytes;
    }

    /// <summary>The index of <paramref name="host"/>'s connections of <paramref name="protocol"/>: <c>{tag}:h:&lt;protocol&gt;&lt;address&gt;</c>.</summary>
    public RedisKey HostKeyOf(Ipv4Address host, NatProtocol protocol, bool redirects = false)
    {
        var bytes = new byte[_hostPrefix.Length + 5];
        _hostPrefix.CopyTo(bytes, 0);
        if (redirects) bytes[_hostPrefix.Length - 2] = (byte)'r'; // "{tag}:r:": the host's redirects, apart so that its limit counts source NAT only
        bytes[_hostPrefix.Length] = (byte)protocol;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(_hostPrefix.Length + 1), host.Value);
        return bytes;
    }

    /// <summary>Every index that lists <paramref name="host"/>'s connections in this shard (what <c>RemoveHost</c> walks).</summary>
    public RedisKey[] HostIndexesOf(Ipv4Address host) =>
    [
        HostKeyOf(host, NatProtocol.Tcp), HostKeyOf(host, NatProtocol.Udp), HostKeyOf(host, NatProtocol.Icmp),
        HostKeyOf(host, NatProtocol.Tcp, redirects: true), HostKeyOf(host, NatProtocol.Udp, redirects: true),
    ];

    /// <summary>The protocol's expiry index, which also counts the shard's connections of it.</summary>
    public RedisKey IndexKeyOf(NatProtocol protocol) => _indexKeys[(int)protocol];

    /// <summary>
    /// A mapping index of a public endpoint (<c>{tag}:x:</c>), or of a public endpoint and remote address (<c>{tag}:a:</c>,
    /// when <paramref name="remote"/> is given): the keys the scripts build from records, built here from the parts.
    /// </summary>
    public RedisKey MappingKeyOf(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address? remote = null)
    {
        var prefix = remote is null ? _publicMappingPrefix : _remoteMappingPrefix;
        var bytes = new byte[prefix.Length + 7 + (remote is null ? 0 : 4)];
        prefix.CopyTo(bytes, 0);
        bytes[prefix.Length] = (byte)protocol;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(prefix.Length + 1), publicAddress.Value);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(prefix.Length + 5), publicPort);
        if (remote is { } address) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(prefix.Length + 7), address.Value);
        return bytes;
    }
}
