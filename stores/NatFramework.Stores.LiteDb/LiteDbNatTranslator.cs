namespace NatFramework.Stores.LiteDb;

/// <summary>The translator generated for <see cref="LiteDbNatStore"/>: synchronous (lookups are in memory), with a host index.</summary>
[NatTranslator(typeof(LiteDbNatStore))]
public sealed partial class LiteDbNatTranslator;
