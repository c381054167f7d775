using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;
using NatFramework.Stores.Lru;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the LRU store: <c>services.AddNat(...).UseLruStore()</c>.</summary>
public static class LruStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses an <see cref="LruNatStore"/> sized from <see cref="NatOptions"/>' capacities, changed by
    /// <paramref name="configure"/>, as the store behind <see cref="INatTranslator"/>.
    /// </summary>
    public static NatBuilder UseLruStore(this NatBuilder builder, Action<LruStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton(sp =>
        {
            var options = LruStoreOptions.From(sp.GetRequiredService<IOptions<NatOptions>>().Value);
            configure?.Invoke(options);
            return new LruNatStore(options);
        });
        return builder.UseTranslator(sp => new LruNatTranslator(sp.GetRequiredService<LruNatStore>(),
            sp.GetRequiredService<IOptions<NatOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
    }
}
