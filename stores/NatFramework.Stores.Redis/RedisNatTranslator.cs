namespace NatFramework.Stores.Redis;

/// <summary>The translator generated for <see cref="RedisNatStore"/>: asynchronous, with a pipelined batch path, a host index and Redis key expiry.</summary>
[NatTranslator(typeof(RedisNatStore))]
public sealed partial class RedisNatTranslator;
