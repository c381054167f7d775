using System.Runtime.CompilerServices;

namespace NatFramework.Translation;

// Translation for synchronous stores: one packet, a batch, the TCP state path and lookup-or-create.
public sealed partial class TranslatorCore
{
    // Chunks of 256: the store's pipelined batch lookup needs a run of keys to fill its prefetch stages
    // (64-packet chunks: 1M flows 99-104 ns per packet, 256: 89-98 ns; 10-20 KB of stack).
    private const int BatchChunk = 256;

    /// <inheritdoc cref="ISyncNatTranslator.Translate"/>
    public NatTranslateResult Translate<TCalls>(TCalls calls, Span<byte> packet, NatSide side) where TCalls : struct, ISyncStoreCalls
    {
        var result = TranslateOne(calls, packet, side);
        NatMetrics.Count(result);
        if (Notable(result)) Notice(result);
        return result;
    }

    private NatTranslateResult TranslateOne<TCalls>(TCalls calls, Span<byte> packet, NatSide side) where TCalls : struct, ISyncStoreCalls
    {
        // The handler sits out here so that the hot method below has none: locals stay in registers.
        try
        {
            return TranslateUnguarded(calls, packet, side);
        }
        catch (NatStoreUnavailableException)
        {
            return NatTranslateResult.StoreUnavailable; // thrown by the store before any byte changed
        }
    }

    // Inlined into Translate's try block: one call per packet. (Locals are not zeroed in this module, see SkipLocalsInit.cs;
    // when they were, the JIT zeroed every struct passed by reference here on every packet, 136 bytes inside the try.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private NatTranslateResult TranslateUnguarded<TCalls>(TCalls calls, Span<byte> packet, NatSide side) where TCalls : struct, ISyncStoreCalls
    {
        // A common packet of an established flow: one lookup and a rewrite. TCP segments with SYN, FIN or RST may change
        // their connection's state and take the state path, as does everything that is not a common packet.
        if (CommonFlow.TryReadEstablished(packet, out var key))
        {
            long now = Now;
            ref readonly var expiry = ref RecentCutoffs(now);
            if (TCalls.HasRewriteLookup)
            {
                if (calls.TryLookupRewrite(key, now, expiry, out var rewrite)) return CommonFlow.Rewrite(packet, rewrite);
            }
            else if (calls.TryLookup(key, expiry, out var lookup))
            {
                // A common packet always translates (its TTL is above 1), so the refresh can come first.
                if (NeedsTouch(lookup, now)) TouchAfterTranslation(calls, key, now);
                return CommonFlow.Rewrite(packet, FlowRewrite.Of(lookup));
            }
            return MissCommon(calls, packet, key, side, now);
        }
        return TranslateOther(calls, packet, side);
    }

    /// <summary>A common packet no connection has: its connection created by the policy, when it says so.</summary>
    // Out of line, like TranslateOther: its plan and results inlined above made the hot method's frame three times larger.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private NatTranslateResult MissCommon<TCalls>(TCalls calls, Span<byte> packet, in FlowKey key, NatSide side, long now) where TCalls : struct, ISyncStoreCalls
        => _policy.CreatesConnections ? Create(calls, packet, PacketPlanner.PlanCommon(packet, key), side, now) : NoConnection;

    /// <summary>Everything but an established flow's common packet: parsed in full, TCP state tracked, new flows created by the policy.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private NatTranslateResult TranslateOther<TCalls>(TCalls calls, Span<byte> packet, NatSide side) where TCalls : struct, ISyncStoreCalls
    {
        var plan = PacketPlanner.Plan(packet);
        if (plan.IsDone) return plan.Result;
        long now = Now;
        var expiry = Cutoffs(now);
        if (plan.IsTcp)
        {
            if (calls.TryLookup(plan.LookupKey, expiry, out var connection)) return TrackAndApply(calls, packet, plan, connection, now);
        }
        else if (TCalls.HasRewriteLookup)
        {
            // An ICMP error neither refreshes nor ends the session it is about (RFC 5508 REQ-6): no time to mark it used at.
            if (calls.TryLookupRewrite(plan.LookupKey, plan.RefreshesSession ? now : long.MinValue, expiry, out var rewrite))
                return PacketPlanner.Apply(packet, plan, rewrite);
        }
        else if (calls.TryLookup(plan.LookupKey, expiry, out var lookup))
        {
            return Complete(calls, packet, plan, lookup, now);
        }
        return plan.MayCreate && _policy.CreatesConnections ? Create(calls, packet, plan, side, now) : NoConnection;
    }

    /// <summary>
    /// A TCP segment of a known connection: its state moves on (written to the store when it changes, before the packet
    /// goes on), or the connection is refreshed when due; then the packet is rewritten.
    /// </summary>
    private NatTranslateResult TrackAndApply<TCalls>(TCalls calls, Span<byte> packet, in PacketPlan plan, in NatLookup lookup, long now) where TCalls : struct, ISyncStoreCalls
    {
        if (PacketPlanner.TtlExpires(packet)) return NatTranslateResult.TtlExceeded; // not forwarded: changes nothing
        var current = lookup.Connection.Flags;
        var next = TcpStateTracker.Next(current, lookup.Direction, plan.TcpFlags);
        if (next != current) AdvanceState(calls, plan.LookupKey, lookup.Direction, plan.TcpFlags, current, next, now);
        else if (NeedsTouch(lookup, now)) TouchAfterTranslation(calls, plan.LookupKey, now);
        return PacketPlanner.Apply(packet, plan, lookup);
    }

    /// <summary>
    /// Writes a state change by compare-and-set. Another packet of the connection (another thread, another router) may
    /// have changed the state since the lookup: then the change is computed again from the state the store holds.
    /// </summary>
    private static void AdvanceState<TCalls>(TCalls calls, in FlowKey key, FlowDirection direction, byte tcpFlags, NatConnectionFlags current,
        NatConnectionFlags next, long now) where TCalls : struct, ISyncStoreCalls
    {
        for (int attempt = 0; attempt < StateUpdateAttempts; attempt++)
        {
            var had = calls.UpdateState(key, current, next, now);
            if (had is not { } actual || actual == current) return; // gone meanwhile, or written
            current = actual;
            next = TcpStateTracker.Next(current, direction, tcpFlags);
            if (next == current) return; // the store already holds what this packet would make
        }
    }

    private NatTranslateResult Complete<TCalls>(TCalls calls, Span<byte> packet, in PacketPlan plan, in NatLookup lookup, long now) where TCalls : struct, ISyncStoreCalls
    {
        var result = PacketPlanner.Apply(packet, plan, lookup);
        if (result.IsTranslated && plan.RefreshesSession && NeedsTouch(lookup, now)) TouchAfterTranslation(calls, plan.LookupKey, now);
        return result;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TouchAfterTranslation<TCalls>(TCalls calls, in FlowKey key, long now) where TCalls : struct, ISyncStoreCalls
    {
        try
        {
            calls.Touch(key, now);
        }
        catch (NatStoreUnavailableException)
        {
            // The packet is translated; the next packet of the flow retries the refresh.
        }
    }

    /// <inheritdoc cref="ISyncNatTranslator.TranslateBatch"/>
    public void TranslateBatch<TCalls>(TCalls calls, Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, NatSide side)
        where TCalls : struct, ISyncStoreCalls
    {
        if (results.Length < packets.Length) throw new ArgumentException("results needs one slot per packet.", nameof(results));
        TranslateBatchInChunks(calls, buffer, packets, results, side);
        NatMetrics.Count(results[..packets.Length]);
        NoticeAll(results[..packets.Length]);
    }

    /// <summary>
    /// A batch in chunks of <see cref="BatchChunk"/>: each chunk's common packets are looked up together (one batch
    /// lookup where the store has one) and completed; every other packet is translated on its own as it is read.
    /// </summary>
    private void TranslateBatchInChunks<TCalls>(TCalls calls, Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, NatSide side)
        where TCalls : struct, ISyncStoreCalls
    {
        Span<FlowKey> keys = stackalloc FlowKey[BatchChunk];
        Span<int> indices = stackalloc int[BatchChunk];
        for (int start = 0; start < packets.Length; start += BatchChunk)
        {
            int count = Math.Min(BatchChunk, packets.Length - start);
            int pending = CollectCommon(calls, buffer, packets, results, side, start, count, keys, indices);
            if (pending == 0) continue;
            if (TCalls.HasRewriteLookup) CompleteByRewrites(calls, buffer, packets, results, side, start, keys[..pending], indices[..pending]);
            else CompleteByLookups(calls, buffer, packets, results, side, start, keys[..pending], indices[..pending]);
        }
    }

    /// <summary>A chunk's common packets through the store's rewrite lookups: found ones rewritten, the others created by the policy.</summary>
    private void CompleteByRewrites<TCalls>(TCalls calls, Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, NatSide side,
        int start, ReadOnlySpan<FlowKey> keys, ReadOnlySpan<int> indices) where TCalls : struct, ISyncStoreCalls
    {
        long now = Now;
        var expiry = Cutoffs(now);
        Span<FlowRewrite> answers = stackalloc FlowRewrite[keys.Length];
        answers.Clear();
        try
        {
            if (TCalls.HasRewriteBatchLookup) calls.LookupRewriteBatch(keys, now, expiry, answers);
            else for (int p = 0; p < keys.Length; p++) calls.TryLookupRewrite(keys[p], now, expiry, out answers[p]);
        }
        catch (NatStoreUnavailableException)
        {
            Unavailable(results, start, indices);
            return;
        }
        for (int p = 0; p < keys.Length; p++)
        {
            int i = start + indices[p];
            results[i] = answers[p].Found ? CommonFlow.Rewrite(buffer[packets[i]], answers[p]) : Miss(calls, buffer[packets[i]], keys[p], side, now);
        }
    }

    /// <summary>A chunk's common packets through the store's lookups: found ones refreshed when due and rewritten, the others created by the policy.</summary>
    private void CompleteByLookups<TCalls>(TCalls calls, Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, NatSide side,
        int start, ReadOnlySpan<FlowKey> keys, ReadOnlySpan<int> indices) where TCalls : struct, ISyncStoreCalls
    {
        long now = Now;
        var expiry = Cutoffs(now);
        Span<NatLookup> answers = stackalloc NatLookup[keys.Length];
        answers.Clear();
        try
        {
            if (TCalls.HasBatchLookup) calls.LookupBatch(keys, expiry, answers);
            else for (int p = 0; p < keys.Length; p++) calls.TryLookup(keys[p], expiry, out answers[p]);
        }
        catch (NatStoreUnavailableException)
        {
            Unavailable(results, start, indices);
            return;
        }
        for (int p = 0; p < keys.Length; p++)
        {
            int i = start + indices[p];
            if (!answers[p].Found)
            {
                results[i] = Miss(calls, buffer[packets[i]], keys[p], side, now);
                continue;
            }
            // A common packet always translates (its TTL is above 1), so the refresh can come first.
            if (NeedsTouch(answers[p], now)) TouchAfterTranslation(calls, keys[p], now);
            results[i] = CommonFlow.Rewrite(buffer[packets[i]], FlowRewrite.Of(answers[p]));
        }
    }

    /// <summary>A chunk's lookup could not reach the store: each of its packets says so.</summary>
    private static void Unavailable(Span<NatTranslateResult> results, int start, ReadOnlySpan<int> indices)
    {
        foreach (int index in indices) results[start + index] = NatTranslateResult.StoreUnavailable;
    }

    /// <summary>
    /// Reads the chunk's packets: common packets' keys go to <paramref name="keys"/> for one batch lookup; any other packet
    /// is translated here, one at a time. Returns how many wait for the batch lookup.
    /// </summary>
    private int CollectCommon<TCalls>(TCalls calls, Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, NatSide side,
        int start, int count, Span<FlowKey> keys, Span<int> indices) where TCalls : struct, ISyncStoreCalls
    {
        int pending = 0;
        for (int i = 0; i < count; i++)
        {
            var packet = buffer[packets[start + i]];
            if (CommonFlow.TryReadEstablished(packet, out keys[pending])) indices[pending++] = i;
            else results[start + i] = TranslateOne(calls, packet, side);
        }
        return pending;
    }

    /// <summary>A common packet of a batch that no connection had: its connection created by the policy, when it says so.</summary>
    private NatTranslateResult Miss<TCalls>(TCalls calls, Span<byte> packet, in FlowKey key, NatSide side, long now) where TCalls : struct, ISyncStoreCalls
    {
        if (!_policy.CreatesConnections) return NoConnection;
        try
        {
            return Create(calls, packet, PacketPlanner.PlanCommon(packet, key), side, now);
        }
        catch (NatStoreUnavailableException)
        {
            return NatTranslateResult.StoreUnavailable;
        }
    }
}
