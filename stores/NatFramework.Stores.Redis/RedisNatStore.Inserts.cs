using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Inserts: the insert script (both keys, the indexes, the bound and the mapping checks in one atomic step), the sharded table's check of the other shard, and waiting for replicas.
public sealed partial class RedisNatStore
{
    // ---- writes ------------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public async ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry,
        CancellationToken cancellationToken = default)
    {
        var shard = _shards.OfPort(publicPort); // a public endpoint's mappings are in the shard its port belongs to
        RedisKey[] keys = [shard.MappingKeyOf(protocol, publicAddress, publicPort), shard.MappingKeyOf(protocol, publicAddress, publicPort, remoteAddress)];
        var result = (RedisResult[])(await Script(LuaScripts.FindMapping, keys, [shard.Tag], cancellationToken).ConfigureAwait(false))!;
        if ((int)result[0] == 0 || !RecordCodec.TryReadRecord((byte[])result[1]!, out var member)) return default;
        var inside = member.Connection.Outbound;
        return new NatMapping(inside.Source, inside.SourcePort, publicAddress, publicPort, (int)result[2] == 1);
    }

    /// <inheritdoc/>
    public async ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken = default)
    {
        var outboundKey = connection.OutboundKey;
        var shard = _shards.Of(connection);
        if (_shards.Count > 1)
        {
            // A reply names only the public port: one outside the shard's class could never be found.
            if (!_shards.ClassOf(connection.Outbound, connection.IsRedirect).Contains(connection.Translated.SourcePort))
                return new NatInsertOutcome(NatInsertStatus.ReplyTaken, default);
            if (TranslatesDestination(connection) && await HeldElsewhereAsync(connection, shard, cancellationToken).ConfigureAwait(false) is { } taken)
                return taken;
        }
        var keyBytes = new byte[RecordCodec.KeyLength];
        RecordCodec.WriteKey(keyBytes, outboundKey);
        RedisKey[] keys = [shard.KeyOf(outboundKey), shard.KeyOf(connection.ReplyKey), shard.HostKeyOf(connection.InsideHost, connection.Protocol, connection.IsRedirect),
            shard.IndexKeyOf(connection.Protocol)];
        RedisValue[] args =
        [
            RecordCodec.Record(connection, FlowDirection.Outbound), RecordCodec.Record(connection, FlowDirection.Reply),
            TtlFor(connection), keyBytes, _options.CapacityFor(connection.Protocol), rules.HostLimit, shard.Tag,
        ];
        var result = (RedisResult[])(await Script(LuaScripts.Insert, keys, args, cancellationToken).ConfigureAwait(false))!;
        switch ((int)result[0])
        {
            case 0:
                _nearCache.Remove(outboundKey);
                _nearCache.Remove(connection.ReplyKey);
                if ((int)result[2] == 1) Interlocked.Increment(ref _evicted);
                if (_options.ReplicaAcknowledgements > 0) await WaitForReplicas(keys[0], cancellationToken).ConfigureAwait(false);
                return new NatInsertOutcome(NatInsertStatus.Inserted, default);
            case 1:
                RecordCodec.TryReadRecord((byte[])result[1]!, out var existing);
                return new NatInsertOutcome(NatInsertStatus.OutboundTaken, existing);
            case 2:
                return new NatInsertOutcome(NatInsertStatus.ReplyTaken, default);
            case 4:
                return new NatInsertOutcome(NatInsertStatus.HostLimitReached, default);
            case 5:
                RecordCodec.TryReadRecord((byte[])result[1]!, out var ofMapping);
                return new NatInsertOutcome(NatInsertStatus.MappingConflict, new NatLookup(ofMapping.Connection, FlowDirection.Outbound));
            default:
                return new NatInsertOutcome(NatInsertStatus.TableFull, default);
        }
    }

    /// <summary>True for a redirect or a hairpinned connection: its keys' destinations are public endpoints.</summary>
    private static bool TranslatesDestination(in NatConnection connection)
        => connection.Outbound.Destination != connection.Translated.Destination || connection.Outbound.DestinationPort != connection.Translated.DestinationPort;

    /// <summary>
    /// On a sharded table, whether a key of <paramref name="connection"/> is already held in the other shard that may hold
    /// it: the outbound key of a redirect also fits a hairpinned flow (source: an inside host), and a key of a hairpinned
    /// connection fits a redirect (destination port: a public one). Only connections that translate the destination can
    /// meet this, so only they pay the extra round trip; it is a check before the insert, not inside it, so two routers
    /// creating the same flow as a redirect and as a hairpin in the same instant can both succeed (the lookup then prefers
    /// the shard of the key's source).
    /// </summary>
    private async Task<NatInsertOutcome?> HeldElsewhereAsync(NatConnection connection, TableShard own, CancellationToken cancellationToken)
    {
        var outboundElsewhere = _shards.OtherCandidate(connection.OutboundKey, own);
        var replyElsewhere = _shards.OtherCandidate(connection.ReplyKey, own);
        if (outboundElsewhere is null && replyElsewhere is null) return null;
        var (held, replyTaken) = await Call(static async (db, k) =>
        {
            var outbound = k.Outbound is { } o ? db.StringGetAsync(o) : Task.FromResult(RedisValue.Null);
            var reply = k.Reply is { } r ? db.KeyExistsAsync(r) : Task.FromResult(false);
            await Task.WhenAll(outbound, reply).ConfigureAwait(false);
            return (outbound.Result, reply.Result);
        }, (Outbound: outboundElsewhere?.KeyOf(connection.OutboundKey), Reply: replyElsewhere?.KeyOf(connection.ReplyKey)), cancellationToken).ConfigureAwait(false);
        if (!held.IsNull && RecordCodec.TryReadRecord((byte[])held!, out var existing)) return new NatInsertOutcome(NatInsertStatus.OutboundTaken, existing);
        return replyTaken ? new NatInsertOutcome(NatInsertStatus.ReplyTaken, default) : null;
    }

    /// <summary>
    /// Waits until <see cref="RedisStoreOptions.ReplicaAcknowledgements"/> replicas hold every write sent so far on the
    /// connection to the master of <paramref name="key"/>'s slot — the insert just made included, as StackExchange.Redis
    /// sends one endpoint's commands over one connection, in order. Fewer in time: the insert is not acknowledged.
    /// </summary>
    private async Task WaitForReplicas(RedisKey key, CancellationToken cancellationToken)
    {
        int wanted = _options.ReplicaAcknowledgements;
        long milliseconds = Math.Max(1, (long)_options.OperationTimeout.TotalMilliseconds);
        // The slot's master from the client's own slot map: no round trip (IdentifyEndpoint would send one, synchronously).
        IServer master;
        try
        {
            master = _redis.GetServer(key, flags: CommandFlags.DemandMaster);
        }
        catch (RedisConnectionException e)
        {
            throw Unavailable(e);
        }
        var acknowledged = await Call(static (_, s) => s.master.ExecuteAsync("WAIT", s.wanted, s.milliseconds), (master, wanted, milliseconds),
            cancellationToken, _options.OperationTimeout * 2).ConfigureAwait(false);
        long replicas = acknowledged is null || acknowledged.IsNull ? 0 : (long)acknowledged;
        if (replicas < wanted)
            throw new NatStoreUnavailableException($"Redis ({ServerName}): {replicas} of {wanted} replica(s) acknowledged the insert within " +
                $"{milliseconds} ms, so it is not acknowledged (ReplicaAcknowledgements).");
    }
}
