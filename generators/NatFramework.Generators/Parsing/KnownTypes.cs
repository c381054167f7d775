namespace NatFramework.Generators.Parsing;

/// <summary>Metadata names of the NatFramework types the parser looks for.</summary>
internal static class KnownTypes
{
    public const string Attribute = "NatFramework.NatTranslatorAttribute";
    public const string SyncStore = "NatFramework.INatStore";
    public const string AsyncStore = "NatFramework.IAsyncNatStore";
    public const string BatchLookup = "NatFramework.INatBatchLookup";
    public const string AsyncBatchLookup = "NatFramework.IAsyncNatBatchLookup";
    public const string RewriteLookup = "NatFramework.INatRewriteLookup";
    public const string HostIndex = "NatFramework.INatHostIndex";
    public const string AsyncHostIndex = "NatFramework.IAsyncNatHostIndex";
    public const string NativeExpiry = "NatFramework.INatNativeExpiry";
    public const string Statistics = "NatFramework.INatStoreStatistics";
    public const string AsyncStatistics = "NatFramework.IAsyncNatStoreStatistics";
    public const string PortClasses = "NatFramework.INatPortClasses";
}
