using NatFramework;

namespace NatRouter;

/// <summary>
/// How a lane hands a burst to the translator, chosen once when the router is built: a synchronous translator's batch
/// call directly; an asynchronous one's (a remote store) waited for on the lane's own thread, which has nothing else to
/// do meanwhile (a near-cache hit completes at once, without blocking or allocating).
/// </summary>
internal abstract class BurstTranslator
{
    /// <summary>The way <paramref name="translator"/> is best called.</summary>
    public static BurstTranslator For(INatTranslator translator) => translator is ISyncNatTranslator sync ? new Synchronous(sync) : new Asynchronous(translator);

    /// <summary>Translates <paramref name="count"/> packets of <paramref name="buffer"/> that arrived on <paramref name="side"/>.</summary>
    public abstract void Translate(byte[] buffer, Range[] packets, NatTranslateResult[] results, int count, NatSide side);

    private sealed class Synchronous(ISyncNatTranslator translator) : BurstTranslator
    {
        public override void Translate(byte[] buffer, Range[] packets, NatTranslateResult[] results, int count, NatSide side)
            => translator.TranslateBatch(buffer, packets.AsSpan(0, count), results.AsSpan(0, count), side);
    }

    private sealed class Asynchronous(INatTranslator translator) : BurstTranslator
    {
        public override void Translate(byte[] buffer, Range[] packets, NatTranslateResult[] results, int count, NatSide side)
        {
            var pending = translator.TranslateBatchAsync(buffer, packets.AsMemory(0, count), results.AsMemory(0, count), side);
            if (!pending.IsCompletedSuccessfully) pending.AsTask().GetAwaiter().GetResult();
        }
    }
}
