namespace NatFramework.Generators.Model;

/// <summary>How generated code reaches a store member.</summary>
internal enum MemberAccess
{
    /// <summary>The store lacks the capability.</summary>
    Absent,
    /// <summary>A public member on the store type: called directly.</summary>
    Direct,
    /// <summary>Implemented explicitly: called through the interface.</summary>
    ViaInterface,
}

/// <summary>Everything the emitter needs for one translator. No symbols, so the pipeline can cache it.</summary>
/// <param name="Namespace">The translator's namespace, empty for the global namespace.</param>
/// <param name="ClassName">The translator class name.</param>
/// <param name="Accessibility">"public" or "internal".</param>
/// <param name="StoreType">The store type, fully qualified with <c>global::</c>.</param>
/// <param name="StoreName">The store type's own name, for log messages and metric tags.</param>
/// <param name="IsAsync">True for an <c>IAsyncNatStore</c>.</param>
/// <param name="Contract">How the base contract members are reached.</param>
/// <param name="BatchLookup">The batch lookup capability.</param>
/// <param name="RewriteLookup">The rewrite lookup capability's single lookup (synchronous stores only).</param>
/// <param name="RewriteBatchLookup">The rewrite lookup capability's batch lookup (synchronous stores only).</param>
/// <param name="HostIndex">The host index capability.</param>
/// <param name="NativeExpiry">The native expiry capability.</param>
/// <param name="Statistics">The statistics capability.</param>
/// <param name="PortClasses">The port classes capability (a store that partitions the public ports).</param>
internal sealed record TranslatorModel(
    string Namespace,
    string ClassName,
    string Accessibility,
    string StoreType,
    string StoreName,
    bool IsAsync,
    MemberAccess Contract,
    MemberAccess BatchLookup,
    MemberAccess RewriteLookup,
    MemberAccess RewriteBatchLookup,
    MemberAccess HostIndex,
    MemberAccess NativeExpiry,
    MemberAccess Statistics,
    MemberAccess PortClasses)
{
    /// <summary>The hint name of the generated file.</summary>
    public string HintName => (Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName) + ".g.cs";
}
