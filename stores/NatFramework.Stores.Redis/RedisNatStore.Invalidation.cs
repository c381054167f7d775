using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Invalidation: removals published to every router's near cache, and this router's subscription to theirs.
public sealed partial class RedisNatStore
{
    // ---- invalidation ------------------------------------------------------------------------------------------

    private Task PublishRemovedAsync(IReadOnlyList<NatConnection> connections)
    {
        var message = new byte[connections.Count * 2 * RecordCodec.KeyLength];
        for (int i = 0; i < connections.Count; i++)
        {
            RecordCodec.WriteKey(message.AsSpan(2 * i * RecordCodec.KeyLength), connections[i].OutboundKey);
            RecordCodec.WriteKey(message.AsSpan((2 * i + 1) * RecordCodec.KeyLength), connections[i].ReplyKey);
            _nearCache.Remove(connections[i].OutboundKey);
            _nearCache.Remove(connections[i].ReplyKey);
        }
        return connections.Count == 0 ? Task.CompletedTask : PublishAsync(message);
    }

    private async Task PublishAsync(byte[] message)
    {
        try
        {
            await _redis.GetSubscriber().PublishAsync(_invalidations, message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Other routers' near caches still drop the entries within the freshness bound.
            RedisStoreLog.InvalidationNotPublished(_logger, _options.KeyPrefix, RedisStoreLog.ReasonOf(e));
        }
    }

    /// <summary>
    /// Subscribes to other routers' removals. Best effort: while Redis is unreachable it fails and is tried again on
    /// recovery; meanwhile the near cache's freshness bound still limits how long a removed connection is served.
    /// </summary>
    private async Task SubscribeAsync()
    {
        if (Interlocked.Exchange(ref _subscribing, 1) == 1) return;
        try
        {
            await _redis.GetSubscriber().SubscribeAsync(_invalidations, (_, message) => Invalidate(message)).ConfigureAwait(false);
            Volatile.Write(ref _subscribed, 1);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            RedisStoreLog.NotSubscribed(_logger, _options.KeyPrefix, RedisStoreLog.ReasonOf(e));
        }
        finally
        {
            Volatile.Write(ref _subscribing, 0);
        }
    }

    private void OnAvailableAgain()
    {
        if (Volatile.Read(ref _subscribed) == 0) _ = SubscribeAsync();
    }

    private void Invalidate(RedisValue message)
    {
        var bytes = (byte[]?)message;
        if (bytes is null || bytes.Length == 0)
        {
            _nearCache.Clear(); // an empty message means the table was cleared
            return;
        }
        for (int offset = 0; offset + RecordCodec.KeyLength <= bytes.Length; offset += RecordCodec.KeyLength)
            _nearCache.Remove(RecordCodec.ReadKey(bytes.AsSpan(offset)));
    }
}
