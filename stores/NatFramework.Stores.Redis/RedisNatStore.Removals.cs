using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Removals: one connection, a host's connections in chunks, the whole table.
public sealed partial class RedisNatStore
{
    /// <inheritdoc/>
    public async ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default)
    {
        var (first, second) = ShardsHolding(key);
        var result = await Script(LuaScripts.Remove, [first.KeyOf(key)], [first.Tag], cancellationToken).ConfigureAwait(false);
        if (result.IsNull && second is not null) result = await Script(LuaScripts.Remove, [second.KeyOf(key)], [second.Tag], cancellationToken).ConfigureAwait(false);
        if (result.IsNull || !RecordCodec.TryReadRecord((byte[])result!, out var removed)) return default;
        await PublishRemovedAsync([removed.Connection]).ConfigureAwait(false);
        return removed;
    }

    /// <inheritdoc/>
    public async ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken = default)
    {
        // The host's source-NAT connections are in its own shard; the redirects that reach it in the shards of their ports.
        int count = 0;
        foreach (var shard in _shards.All)
            count += await RemoveConnectionsAsync(shard, host, removed, cancellationToken).ConfigureAwait(false);
        return count;
    }

    private async Task<int> RemoveConnectionsAsync(TableShard shard, Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken)
    {
        var hostIndexes = shard.HostIndexesOf(host);
        int count = 0;
        long left;
        do
        {
            var result = (RedisResult[])(await Script(LuaScripts.RemoveHost, hostIndexes, [shard.Tag, RemoveChunk], cancellationToken).ConfigureAwait(false))!;
            left = (long)result[0];
            var connections = new List<NatConnection>(result.Length - 1);
            for (int i = 1; i < result.Length; i++)
                if (RecordCodec.TryReadRecord((byte[])result[i]!, out var lookup)) connections.Add(lookup.Connection);
            removed.AddRange(connections);
            count += connections.Count;
            await PublishRemovedAsync(connections).ConfigureAwait(false);
        }
        while (left > 0);
        return count;
    }

    /// <inheritdoc/>
    /// <remarks>The table's recorded shard count stays: it describes the table, which routers go on sharing.</remarks>
    public async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        foreach (var shard in _shards.All)
        foreach (var batch in await ScanAsync(shard.Pattern, cancellationToken).ConfigureAwait(false))
        {
            var keys = batch.Where(key => key != _layoutKey).ToArray(); // one shard: "{prefix}:*" holds the shard count too
            // A shard is one slot, so its keys go in one DEL on a cluster too.
            if (keys.Length > 0) await Call(static (db, k) => db.KeyDeleteAsync(k), keys, cancellationToken).ConfigureAwait(false);
        }
        _nearCache.Clear();
        await PublishAsync([]).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes the table from Redis altogether: every connection, as <see cref="ClearAsync"/>, and the recorded shard
    /// count, so that the prefix is free for a table of any layout. For a throwaway table; routers still using the table
    /// would record their count again only when they restart.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the store.</param>
    /// <returns>Completes when the table is gone.</returns>
    /// <exception cref="NatStoreUnavailableException">Redis did not answer.</exception>
    public async ValueTask DeleteTableAsync(CancellationToken cancellationToken = default)
    {
        await ClearAsync(cancellationToken).ConfigureAwait(false);
        await Call(static (db, k) => db.KeyDeleteAsync(k), _layoutKey, cancellationToken).ConfigureAwait(false);
    }
}
