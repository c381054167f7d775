using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Listing the shared table: every shard scanned with SCAN on every master, records read in pages.
public sealed partial class RedisNatStore
{
    /// <inheritdoc/>
    public async IAsyncEnumerable<NatConnection> GetConnectionsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var shard in _shards.All)
        foreach (var batch in await ScanAsync(shard.ConnectionPattern, cancellationToken).ConfigureAwait(false))
        {
            var values = await Call(static (db, k) => db.StringGetAsync(k), batch, cancellationToken).ConfigureAwait(false);
            foreach (var value in values)
                if (!value.IsNull && RecordCodec.TryReadRecord((byte[])value!, out var lookup) && lookup.Direction == FlowDirection.Outbound)
                    yield return lookup.Connection;
        }
    }

    private async Task<List<RedisKey[]>> ScanAsync(RedisValue pattern, CancellationToken cancellationToken)
    {
        if (!_availability.IsAvailable) throw DownAlready();
        var batches = new List<RedisKey[]>();
        try
        {
            foreach (var endpoint in _redis.GetEndPoints())
            {
                var server = _redis.GetServer(endpoint);
                if (server.IsReplica || !server.IsConnected) continue;
                var batch = new List<RedisKey>();
                await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    batch.Add(key);
                    if (batch.Count == 1000)
                    {
                        batches.Add([.. batch]);
                        batch.Clear();
                    }
                }
                if (batch.Count > 0) batches.Add([.. batch]);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw Unavailable(e);
        }
        return batches;
    }
}
