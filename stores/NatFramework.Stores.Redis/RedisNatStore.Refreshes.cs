using System.Buffers.Binary;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Refreshes of a connection's lifetime (in the background) and TCP state changes (compare-and-set, waited for).
public sealed partial class RedisNatStore
{
    /// <inheritdoc/>
    /// <remarks>
    /// Never waits for Redis: the near cache takes the new last-seen time at once (so the translator's next refresh is
    /// a refresh interval away) and the refresh goes to Redis in the background, one per key at a time. While Redis is
    /// down it is skipped; the connection's Redis TTL is long compared with the refresh interval.
    /// </remarks>
    public ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default)
    {
        _nearCache.Touched(key, now);
        if (_availability.IsAvailable && _touching.TryAdd(key, 0)) _ = TouchRemoteAsync(key, now);
        return default;
    }

    private async Task TouchRemoteAsync(FlowKey key, long now)
    {
        try
        {
            var lastSeen = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(lastSeen, now);
            var (first, second) = ShardsHolding(key);
            var touched = (long)await Script(LuaScripts.Touch, [first.KeyOf(key)], [lastSeen, TtlFor(key.Protocol), TransitoryTtlFor(key.Protocol), first.KeyPrefix, first.Tag],
                CancellationToken.None).ConfigureAwait(false);
            if (touched == 0 && second is not null)
                await Script(LuaScripts.Touch, [second.KeyOf(key)], [lastSeen, TtlFor(key.Protocol), TransitoryTtlFor(key.Protocol), second.KeyPrefix, second.Tag],
                    CancellationToken.None).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            // The translator refreshes again after the next refresh interval.
        }
        finally
        {
            _touching.TryRemove(key, out _);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Waited for (unlike a refresh): the packet that changed the state goes on only once every router can see the new state.</remarks>
    public async ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now,
        CancellationToken cancellationToken = default)
    {
        var lastSeen = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(lastSeen, now);
        var (first, second) = ShardsHolding(key);
        long had = -1;
        foreach (var shard in second is null ? [first] : new[] { first, second })
        {
            had = (long)await Script(LuaScripts.UpdateState, [shard.KeyOf(key)],
                [lastSeen, (int)expected, new[] { (byte)flags }, TtlFor(key.Protocol), TransitoryTtlFor(key.Protocol), shard.KeyPrefix, shard.Tag],
                cancellationToken).ConfigureAwait(false);
            if (had >= 0) break;
        }
        if (had < 0)
        {
            _nearCache.Remove(key);
            return null;
        }
        var held = (NatConnectionFlags)had;
        if (held == expected) _nearCache.Updated(key, flags, now);
        else _nearCache.Updated(key, held, null); // another router (or packet) changed it first: remember what Redis holds
        return held;
    }
}
