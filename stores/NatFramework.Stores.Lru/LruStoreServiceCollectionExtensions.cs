using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;
using NatFramework.Stores.Lru;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the LRU store: <c>services.AddNat(...).UseLruStore()</c>.</summary>
public static class LruStoreServiceCollectionExtensions
{
    /// <summary>Uses an <see cref="LruNatStore"/> with <see cref="LruStoreOptions"/> bound from <paramref name="configuration"/> (capacities).</summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="configuration">The configuration section.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseLruStore(this NatBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return builder.UseLruStore(configuration.Bind);
    }

    /// <summary>
    /// Uses an <see cref="LruNatStore"/> sized from <see cref="NatOptions"/>' capacities, then by whatever configures
    /// <see cref="LruStoreOptions"/> (<c>services.Configure&lt;LruStoreOptions&gt;(…)</c>, a configuration section) and
    /// <paramref name="configure"/>, as the store behind <see cref="INatTranslator"/>; the options are validated when
    /// first resolved and, under a host, when it starts.
    /// </summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="configure">Changes the options after they are bound; may be null.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseLruStore(this NatBuilder builder, Action<LruStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<LruStoreOptions>();
        // Registered ahead of any Configure<LruStoreOptions> (ConfigureOptions run in registration order, a later
        // services.Configure<LruStoreOptions>(…) still wins): the capacities start from NatOptions'.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IConfigureOptions<LruStoreOptions>>(sp => new ConfigureNamedOptions<LruStoreOptions>(
            Options.Options.DefaultName, o =>
            {
                var nat = sp.GetRequiredService<IOptions<NatOptions>>().Value;
                (o.TcpCapacity, o.UdpCapacity, o.IcmpCapacity) = (nat.TcpCapacity, nat.UdpCapacity, nat.IcmpCapacity);
            })));
        if (configure is not null) options.Configure(configure);
        options.Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();
        builder.Services.AddSingleton(sp => new LruNatStore(sp.GetRequiredService<IOptions<LruStoreOptions>>().Value));
        return builder.UseTranslator(sp => new LruNatTranslator(sp.GetRequiredService<LruNatStore>(),
            sp.GetRequiredService<IOptions<NatOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<LruNatTranslator>()));
    }
}
