namespace NatFramework.Generators.Parsing;

/// <summary>An optional store capability: the interface that documents it and the exact member shape that provides it.</summary>
/// <param name="Name">What the capability is called in messages.</param>
/// <param name="InterfaceName">The capability interface's metadata name.</param>
/// <param name="MemberName">The member's name.</param>
/// <param name="ReturnType">The return type, fully qualified, nullability ignored.</param>
/// <param name="Parameters">Each parameter as "ref-kind type", fully qualified.</param>
/// <param name="Display">The signature shown in diagnostics.</param>
internal sealed record Capability(string Name, string InterfaceName, string MemberName, string ReturnType, string[] Parameters, string Display)
{
    public static readonly Capability BatchLookup = new(
        "batch lookup", KnownTypes.BatchLookup, "LookupBatch", "void",
        ["global::System.ReadOnlySpan<global::NatFramework.FlowKey>", "in global::NatFramework.ExpiryCutoffs", "global::System.Span<global::NatFramework.NatLookup>"],
        "void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results)");

    public static readonly Capability AsyncBatchLookup = new(
        "batch lookup", KnownTypes.AsyncBatchLookup, "LookupBatchAsync", "global::System.Threading.Tasks.ValueTask",
        ["global::System.ReadOnlyMemory<global::NatFramework.FlowKey>", "global::NatFramework.ExpiryCutoffs", "global::System.Memory<global::NatFramework.NatLookup>", "global::System.Threading.CancellationToken"],
        "ValueTask LookupBatchAsync(ReadOnlyMemory<FlowKey> keys, ExpiryCutoffs expiry, Memory<NatLookup> results, CancellationToken cancellationToken)");

    public static readonly Capability RewriteLookup = new(
        "rewrite lookup", KnownTypes.RewriteLookup, "TryLookupRewrite", "bool",
        ["in global::NatFramework.FlowKey", "long", "in global::NatFramework.ExpiryCutoffs", "out global::NatFramework.FlowRewrite"],
        "bool TryLookupRewrite(in FlowKey key, long now, in ExpiryCutoffs expiry, out FlowRewrite rewrite)");

    public static readonly Capability RewriteBatchLookup = new(
        "rewrite lookup", KnownTypes.RewriteLookup, "LookupRewriteBatch", "void",
        ["global::System.ReadOnlySpan<global::NatFramework.FlowKey>", "long", "in global::NatFramework.ExpiryCutoffs", "global::System.Span<global::NatFramework.FlowRewrite>"],
        "void LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, in ExpiryCutoffs expiry, Span<FlowRewrite> results)");

    public static readonly Capability HostIndex = new(
        "host index", KnownTypes.HostIndex, "RemoveConnections", "int",
        ["global::NatFramework.Ipv4Address", "global::System.Collections.Generic.List<global::NatFramework.NatConnection>"],
        "int RemoveConnections(Ipv4Address host, List<NatConnection> removed)");

    public static readonly Capability AsyncHostIndex = new(
        "host index", KnownTypes.AsyncHostIndex, "RemoveConnectionsAsync", "global::System.Threading.Tasks.ValueTask<int>",
        ["global::NatFramework.Ipv4Address", "global::System.Collections.Generic.List<global::NatFramework.NatConnection>", "global::System.Threading.CancellationToken"],
        "ValueTask<int> RemoveConnectionsAsync(Ipv4Address host, List<NatConnection> removed, CancellationToken cancellationToken)");

    public static readonly Capability NativeExpiry = new(
        "native expiry", KnownTypes.NativeExpiry, "ConfigureExpiry", "void",
        ["global::NatFramework.NatTimeouts"],
        "void ConfigureExpiry(NatTimeouts? timeouts)");

    public static readonly Capability Statistics = new(
        "statistics", KnownTypes.Statistics, "GetStatistics", "global::NatFramework.NatStoreStatistics", [],
        "NatStoreStatistics GetStatistics()");

    public static readonly Capability AsyncStatistics = new(
        "statistics", KnownTypes.AsyncStatistics, "GetStatisticsAsync", "global::System.Threading.Tasks.ValueTask<global::NatFramework.NatStoreStatistics>",
        ["global::System.Threading.CancellationToken"],
        "ValueTask<NatStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken)");

    public static readonly Capability PortClasses = new(
        "port classes", KnownTypes.PortClasses, "PortClassOf", "global::NatFramework.PortClass",
        ["in global::NatFramework.FlowKey", "bool"],
        "PortClass PortClassOf(in FlowKey outbound, bool redirect)");
}
