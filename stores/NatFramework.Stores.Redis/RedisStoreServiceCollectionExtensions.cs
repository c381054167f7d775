using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;
using NatFramework.Stores.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Redis store: <c>services.AddNat(...).UseRedisStore(o => o.Configuration = "…")</c>.</summary>
public static class RedisStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="RedisNatStore"/> configured by <paramref name="configure"/> (validated when first resolved) behind
    /// <see cref="INatTranslator"/>. Capacities start from <see cref="NatOptions"/>'.
    /// </summary>
    public static NatBuilder UseRedisStore(this NatBuilder builder, Action<RedisStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<RedisStoreOptions>().Configure<IOptions<NatOptions>>((o, nat) =>
        {
            o.TcpCapacity = nat.Value.TcpCapacity;
            o.UdpCapacity = nat.Value.UdpCapacity;
            o.IcmpCapacity = nat.Value.IcmpCapacity;
        }).Configure(configure).Validate(o =>
        {
            o.Validate();
            return true;
        });
        builder.Services.AddSingleton(sp => new RedisNatStore(sp.GetRequiredService<IOptions<RedisStoreOptions>>().Value,
            sp.GetService<ILogger<RedisNatStore>>()));
        return builder.UseTranslator(sp => new RedisNatTranslator(sp.GetRequiredService<RedisNatStore>(),
            sp.GetRequiredService<IOptions<NatOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
    }
}
