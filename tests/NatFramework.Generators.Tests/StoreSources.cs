namespace NatFramework.Generators.Tests;

/// <summary>Store declarations the tests feed to the generator.</summary>
internal static class StoreSources
{
    /// <summary>A synchronous store with every capability implemented as public members.</summary>
    public const string SyncStore = """
        using System;
        using System.Collections.Generic;
        using NatFramework;

        namespace Consumer;

        public sealed class TableStore : INatStore, INatBatchLookup, INatHostIndex
        {
            public bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup) { lookup = default; return false; }
            public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing) { existing = default; return NatInsertStatus.Inserted; }
            public void Touch(in FlowKey key, long now) { }
            public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now) => null;
            public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping) { mapping = default; return false; }
            public bool Remove(in FlowKey key, out NatConnection removed) { removed = default; return false; }
            public bool Contains(in FlowKey key, in ExpiryCutoffs expiry) => false;
            public void Clear() { }
            public IEnumerable<NatConnection> Connections => Array.Empty<NatConnection>();
            public void LookupBatch(ReadOnlySpan<FlowKey> keys, in ExpiryCutoffs expiry, Span<NatLookup> results) { }
            public int RemoveConnections(Ipv4Address host, List<NatConnection> removed) => 0;
        }

        [NatTranslator(typeof(TableStore))]
        public sealed partial class TableNat;
        """;

    /// <summary>
    /// A synchronous store with the rewrite lookup capability, its single lookup public and its batch lookup
    /// implemented explicitly, and no other capability.
    /// </summary>
    public const string RewriteStore = """
        using System;
        using System.Collections.Generic;
        using NatFramework;

        namespace Consumer.Fast;

        public sealed class FastStore : INatStore, INatRewriteLookup
        {
            public bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup) { lookup = default; return false; }
            public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing) { existing = default; return NatInsertStatus.Inserted; }
            public void Touch(in FlowKey key, long now) { }
            public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now) => null;
            public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping) { mapping = default; return false; }
            public bool Remove(in FlowKey key, out NatConnection removed) { removed = default; return false; }
            public bool Contains(in FlowKey key, in ExpiryCutoffs expiry) => false;
            public void Clear() { }
            public IEnumerable<NatConnection> Connections => Array.Empty<NatConnection>();
            public bool TryLookupRewrite(in FlowKey key, long now, in ExpiryCutoffs expiry, out FlowRewrite rewrite) { rewrite = default; return false; }
            void INatRewriteLookup.LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, in ExpiryCutoffs expiry, Span<FlowRewrite> results) { }
            public NatStoreStatistics GetStatistics() => new(1, 2, 3);
        }

        [NatTranslator(typeof(FastStore))]
        public sealed partial class FastNat;
        """;

    /// <summary>An asynchronous store with native expiry and statistics, and one member implemented explicitly.</summary>
    public const string AsyncStore = """
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using NatFramework;

        namespace Consumer.Remote;

        public sealed class RemoteStore : IAsyncNatStore, INatNativeExpiry
        {
            public ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default) => default;
            public ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken = default) => default;
            public ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default) => default;
            public ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now, CancellationToken cancellationToken = default) => default;
            public ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry, CancellationToken cancellationToken = default) => default;
            public ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default) => default;
            public ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default) => default;
            ValueTask IAsyncNatStore.ClearAsync(CancellationToken cancellationToken) => default;
            public async IAsyncEnumerable<NatConnection> GetConnectionsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            {
                await Task.Yield();
                yield break;
            }
            public void ConfigureExpiry(NatTimeouts? timeouts) { }
            public ValueTask<NatStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default) => new(new NatStoreStatistics(4, 5, 6));
        }

        [NatTranslator(typeof(RemoteStore))]
        internal sealed partial class RemoteNat;
        """;
}
