using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;
using NatFramework.Stores.LiteDb;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the LiteDB store: <c>services.AddNat(...).UseLiteDbStore(o => o.Path = "/var/lib/nat/table.db")</c>.</summary>
public static class LiteDbStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="LiteDbNatStore"/> with <see cref="LiteDbStoreOptions"/> bound from <paramref name="configuration"/>
    /// (a section such as <c>"LiteDb": { "Path": "/var/lib/natrouter/table.db", "DurabilityWindow": "00:00:00.250" }</c>).
    /// </summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="configuration">The configuration section.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseLiteDbStore(this NatBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return builder.UseLiteDbStore(configuration.Bind);
    }

    /// <summary>
    /// Uses a <see cref="LiteDbNatStore"/> configured by <paramref name="configure"/> (validated when first resolved)
    /// behind <see cref="INatTranslator"/>. Capacities start from <see cref="NatOptions"/>' and expiry on open uses the
    /// translator's timeouts. Disposing the service provider flushes what is pending.
    /// </summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="configure">Changes the options after they are bound; may be null.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseLiteDbStore(this NatBuilder builder, Action<LiteDbStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<LiteDbStoreOptions>().Configure<IOptions<NatOptions>, TimeProvider>((o, nat, time) =>
        {
            o.ExpireOnOpen = nat.Value.ExpiryEnabled ? nat.Value.Timeouts : null;
            o.TimeProvider = time;
            o.TcpCapacity = nat.Value.TcpCapacity;
            o.UdpCapacity = nat.Value.UdpCapacity;
            o.IcmpCapacity = nat.Value.IcmpCapacity;
        }).Configure(configure).Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();
        builder.Services.AddSingleton(sp => new LiteDbNatStore(sp.GetRequiredService<IOptions<LiteDbStoreOptions>>().Value,
            sp.GetService<ILogger<LiteDbNatStore>>()));
        return builder.UseTranslator(sp => new LiteDbNatTranslator(sp.GetRequiredService<LiteDbNatStore>(),
            sp.GetRequiredService<IOptions<NatOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<LiteDbNatTranslator>()));
    }
}
