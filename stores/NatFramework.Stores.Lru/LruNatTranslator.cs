namespace NatFramework.Stores.Lru;

/// <summary>The translator generated for <see cref="LruNatStore"/>: synchronous, with batch lookups and a host index.</summary>
[NatTranslator(typeof(LruNatStore))]
public sealed partial class LruNatTranslator
{
    /// <summary>A translator over a new store sized from <paramref name="options"/>' capacities.</summary>
    /// <param name="options">The settings.</param>
    /// <param name="timeProvider">The clock (the system clock when null).</param>
    /// <returns>A translator over a new store.</returns>
    public static LruNatTranslator Create(NatOptions? options = null, TimeProvider? timeProvider = null)
    {
        options ??= new NatOptions();
        return new LruNatTranslator(new LruNatStore(LruStoreOptions.From(options)), options, timeProvider);
    }
}
