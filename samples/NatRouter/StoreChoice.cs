using NatFramework;
using NatFramework.Stores.LiteDb;
using NatFramework.Stores.Lru;
using NatFramework.Stores.Redis;

namespace NatRouter;

/// <summary>The store the command line names, behind the one translator surface every store shares; disposed (flushed) on exit.</summary>
public sealed class StoreChoice : IDisposable
{
    private readonly IDisposable? _store;

    /// <summary>Creates the store and its translator.</summary>
    /// <exception cref="ArgumentException">The store name is not lru, redis or litedb.</exception>
    public StoreChoice(string name, NatOptions options, string redisConfiguration, string litedbPath)
    {
        switch (name.ToLowerInvariant())
        {
            case "lru":
                Translator = LruNatTranslator.Create(options);
                break;
            case "redis":
                var redis = new RedisNatStore(new RedisStoreOptions { Configuration = redisConfiguration });
                _store = redis;
                Translator = new RedisNatTranslator(redis, options);
                break;
            case "litedb":
                var litedb = new LiteDbNatStore(new LiteDbStoreOptions { Path = litedbPath, ExpireOnOpen = options.Timeouts });
                _store = litedb;
                Translator = new LiteDbNatTranslator(litedb, options);
                break;
            default:
                throw new ArgumentException($"--store '{name}' is not one of lru, redis, litedb.", nameof(name));
        }
    }

    /// <summary>The translator over the chosen store.</summary>
    public INatTranslator Translator { get; }

    /// <inheritdoc/>
    public void Dispose() => _store?.Dispose();
}
