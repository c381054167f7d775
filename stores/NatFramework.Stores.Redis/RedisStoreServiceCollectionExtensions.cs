using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;
using NatFramework.Stores.Redis;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Redis store: <c>services.AddNat(...).UseRedisStore(o => o.Configuration = "…")</c>.</summary>
public static class RedisStoreServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="RedisNatStore"/> configured by <paramref name="configure"/> (and by whatever else configures
    /// <see cref="RedisStoreOptions"/>; validated when first resolved and, under a host, when it starts) behind
    /// <see cref="INatTranslator"/>. Capacities start from <see cref="NatOptions"/>'. The store opens its own connection.
    /// </summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="configure">Changes the options after they are bound; may be null.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseRedisStore(this NatBuilder builder, Action<RedisStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Register(builder, configure, connection: null);
    }

    /// <summary>
    /// Uses a <see cref="RedisNatStore"/> with <see cref="RedisStoreOptions"/> bound from <paramref name="configuration"/>
    /// (a section such as <c>"Redis": { "Configuration": "redis1:6379,user=nat,password=…", "KeyPrefix": "nat" }</c>).
    /// </summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="configuration">The configuration section.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseRedisStore(this NatBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(builder, configuration.Bind, connection: null);
    }

    /// <summary>
    /// Uses a <see cref="RedisNatStore"/> over a connection the application already has (created by
    /// <paramref name="connection"/> once; it stays the application's to dispose), so one multiplexer serves the NAT
    /// table and everything else. <see cref="RedisStoreOptions.Configuration"/> defaults to that connection's.
    /// </summary>
    /// <param name="builder">The NAT builder from <c>services.AddNat(…)</c>.</param>
    /// <param name="connection">The connection.</param>
    /// <param name="configure">Changes the options after they are bound; may be null.</param>
    /// <returns>The builder, for chaining.</returns>
    public static NatBuilder UseRedisStore(this NatBuilder builder, Func<IServiceProvider, IConnectionMultiplexer> connection,
        Action<RedisStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return Register(builder, configure, connection);
    }

    private static NatBuilder Register(NatBuilder builder, Action<RedisStoreOptions>? configure, Func<IServiceProvider, IConnectionMultiplexer>? connection)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<RedisStoreOptions>().Configure<IOptions<NatOptions>>((o, nat) =>
        {
            o.TcpCapacity = nat.Value.TcpCapacity;
            o.UdpCapacity = nat.Value.UdpCapacity;
            o.IcmpCapacity = nat.Value.IcmpCapacity;
        });
        if (connection is not null)
        {
            builder.Services.AddSingleton(sp => new SharedConnection(connection(sp)));
            options.Configure<SharedConnection>((o, shared) => o.Configuration = shared.Connection.Configuration);
        }
        if (configure is not null) options.Configure(configure);
        options.Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();
        builder.Services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<IOptions<RedisStoreOptions>>().Value;
            var logger = sp.GetService<ILogger<RedisNatStore>>();
            return connection is null
                ? new RedisNatStore(settings, logger)
                : new RedisNatStore(settings, sp.GetRequiredService<SharedConnection>().Connection, logger);
        });
        return builder.UseTranslator(sp => new RedisNatTranslator(sp.GetRequiredService<RedisNatStore>(),
            sp.GetRequiredService<IOptions<NatOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<RedisNatTranslator>()));
    }

    /// <summary>The application's connection, made once for the options and the store.</summary>
    private sealed record SharedConnection(IConnectionMultiplexer Connection);
}
