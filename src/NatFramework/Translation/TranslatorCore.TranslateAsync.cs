using System.Buffers;

namespace NatFramework.Translation;

// Translation for asynchronous stores: a lookup answered at once (a near-cache hit) completes without async machinery.
public sealed partial class TranslatorCore
{
    /// <inheritdoc cref="INatTranslator.TranslateAsync"/>
    public ValueTask<NatTranslateResult> TranslateAsync<TCalls>(TCalls calls, Memory<byte> packet, NatSide side, CancellationToken cancellationToken)
        where TCalls : struct, IAsyncStoreCalls
    {
        var translation = TranslateOneAsync(calls, packet, side, cancellationToken);
        if (!translation.IsCompletedSuccessfully) return CountWhenDoneAsync(translation);
        var result = translation.Result;
        NatMetrics.Count(result);
        if (Notable(result)) Notice(result);
        return translation;
    }

    private async ValueTask<NatTranslateResult> CountWhenDoneAsync(ValueTask<NatTranslateResult> translation)
    {
        var result = await translation.ConfigureAwait(false);
        NatMetrics.Count(result);
        if (Notable(result)) Notice(result);
        return result;
    }

    private ValueTask<NatTranslateResult> TranslateOneAsync<TCalls>(TCalls calls, Memory<byte> packet, NatSide side, CancellationToken cancellationToken)
        where TCalls : struct, IAsyncStoreCalls
    {
        var plan = PacketPlanner.Plan(packet.Span);
        if (plan.IsDone) return new(plan.Result);
        long now = Now;
        ValueTask<NatLookup> pending;
        try
        {
            pending = calls.LookupAsync(plan.LookupKey, Cutoffs(now), cancellationToken);
        }
        catch (NatStoreUnavailableException)
        {
            return new(NatTranslateResult.StoreUnavailable);
        }
        // A lookup answered at once (a cache hit) completes without any async machinery.
        if (!pending.IsCompletedSuccessfully) return TranslateAfterLookupAsync(calls, pending, packet, plan, side, now, cancellationToken);
        return Found(calls, packet, plan, pending.Result, side, now, cancellationToken);
    }

    private async ValueTask<NatTranslateResult> TranslateAfterLookupAsync<TCalls>(TCalls calls, ValueTask<NatLookup> pending, Memory<byte> packet, PacketPlan plan,
        NatSide side, long now, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        NatLookup lookup;
        try
        {
            lookup = await pending.ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            return NatTranslateResult.StoreUnavailable;
        }
        return await Found(calls, packet, plan, lookup, side, now, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Acts on a lookup's answer: creates the connection of a new flow, or translates (tracking TCP state, refreshing when due).</summary>
    private ValueTask<NatTranslateResult> Found<TCalls>(TCalls calls, Memory<byte> packet, in PacketPlan plan, in NatLookup lookup, NatSide side, long now,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        if (!lookup.Found)
            return plan.MayCreate && _policy.CreatesConnections ? CreateAsync(calls, packet, plan, side, now, cancellationToken) : new(NoConnection);
        if (plan.IsTcp)
        {
            if (PacketPlanner.TtlExpires(packet.Span)) return new(NatTranslateResult.TtlExceeded);
            var current = lookup.Connection.Flags;
            var next = TcpStateTracker.Next(current, lookup.Direction, plan.TcpFlags);
            if (next != current) return UpdateStateThenApplyAsync(calls, packet, plan, lookup, current, next, now, cancellationToken);
        }
        var result = PacketPlanner.Apply(packet.Span, plan, lookup);
        if (result.IsTranslated && plan.RefreshesSession && NeedsTouch(lookup, now)) return TouchAfterTranslationAsync(calls, plan.LookupKey, now, result, cancellationToken);
        return new(result);
    }

    /// <summary>A TCP state change reaches the store before the packet that caused it goes on.</summary>
    private async ValueTask<NatTranslateResult> UpdateStateThenApplyAsync<TCalls>(TCalls calls, Memory<byte> packet, PacketPlan plan, NatLookup lookup,
        NatConnectionFlags current, NatConnectionFlags next, long now, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        try
        {
            // Compare-and-set, computed again from the store's state when another packet changed it first (see AdvanceState).
            for (int attempt = 0; attempt < StateUpdateAttempts; attempt++)
            {
                var had = await calls.UpdateStateAsync(plan.LookupKey, current, next, now, cancellationToken).ConfigureAwait(false);
                if (had is not { } actual || actual == current) break;
                current = actual;
                next = TcpStateTracker.Next(current, lookup.Direction, plan.TcpFlags);
                if (next == current) break;
            }
        }
        catch (NatStoreUnavailableException)
        {
            return NatTranslateResult.StoreUnavailable;
        }
        return PacketPlanner.Apply(packet.Span, plan, lookup);
    }

    private static async ValueTask<NatTranslateResult> TouchAfterTranslationAsync<TCalls>(TCalls calls, FlowKey key, long now, NatTranslateResult result,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        try
        {
            await calls.TouchAsync(key, now, cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            // The packet is translated; the next packet of the flow retries the refresh.
        }
        return result;
    }

    /// <inheritdoc cref="INatTranslator.TranslateBatchAsync"/>
    public async ValueTask TranslateBatchAsync<TCalls>(TCalls calls, Memory<byte> buffer, ReadOnlyMemory<Range> packets, Memory<NatTranslateResult> results, NatSide side,
        CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        if (results.Length < packets.Length) throw new ArgumentException("results needs one slot per packet.", nameof(results));
        int count = packets.Length;
        var plans = ArrayPool<PacketPlan>.Shared.Rent(count);
        var keys = ArrayPool<FlowKey>.Shared.Rent(count);
        var lookups = ArrayPool<NatLookup>.Shared.Rent(count);
        var indices = ArrayPool<int>.Shared.Rent(count);
        try
        {
            await TranslatePlannedBatchAsync(calls, buffer, packets, results, side, plans, keys, lookups, indices, cancellationToken).ConfigureAwait(false);
            NatMetrics.Count(results.Span[..count]);
            NoticeAll(results.Span[..count]);
        }
        finally
        {
            ArrayPool<PacketPlan>.Shared.Return(plans);
            ArrayPool<FlowKey>.Shared.Return(keys);
            ArrayPool<NatLookup>.Shared.Return(lookups);
            ArrayPool<int>.Shared.Return(indices);
        }
    }

    private async ValueTask TranslatePlannedBatchAsync<TCalls>(TCalls calls, Memory<byte> buffer, ReadOnlyMemory<Range> packets, Memory<NatTranslateResult> results,
        NatSide side, PacketPlan[] plans, FlowKey[] keys, NatLookup[] lookups, int[] indices, CancellationToken cancellationToken) where TCalls : struct, IAsyncStoreCalls
    {
        int pending = PlanBatch(buffer.Span, packets.Span, results.Span, plans, keys, indices);
        if (pending == 0) return;
        long now = Now;
        var expiry = Cutoffs(now);
        Array.Clear(lookups, 0, pending);
        try
        {
            if (TCalls.HasBatchLookup)
                await calls.LookupBatchAsync(new ReadOnlyMemory<FlowKey>(keys, 0, pending), expiry, new Memory<NatLookup>(lookups, 0, pending), cancellationToken).ConfigureAwait(false);
            else
                for (int p = 0; p < pending; p++) lookups[p] = await calls.LookupAsync(keys[p], expiry, cancellationToken).ConfigureAwait(false);
        }
        catch (NatStoreUnavailableException)
        {
            for (int p = 0; p < pending; p++) results.Span[indices[p]] = NatTranslateResult.StoreUnavailable;
            return;
        }
        for (int p = 0; p < pending; p++)
        {
            int i = indices[p];
            var found = Found(calls, buffer[packets.Span[i]], plans[i], lookups[p], side, now, cancellationToken);
            var result = found.IsCompletedSuccessfully ? found.Result : await found.ConfigureAwait(false);
            results.Span[i] = result;
        }
    }

    /// <summary>
    /// Plans every packet of a batch: decided packets get their result now; the others' lookup keys go to
    /// <paramref name="keys"/> and their index to <paramref name="indices"/>. Returns how many need a lookup.
    /// </summary>
    private static int PlanBatch(Span<byte> buffer, ReadOnlySpan<Range> packets, Span<NatTranslateResult> results, Span<PacketPlan> plans, Span<FlowKey> keys, Span<int> indices)
    {
        int pending = 0;
        for (int i = 0; i < packets.Length; i++)
        {
            var plan = PacketPlanner.Plan(buffer[packets[i]]);
            plans[i] = plan;
            if (plan.IsDone)
            {
                results[i] = plan.Result;
                continue;
            }
            keys[pending] = plan.LookupKey;
            indices[pending++] = i;
        }
        return pending;
    }
}
