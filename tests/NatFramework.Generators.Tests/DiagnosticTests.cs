using Microsoft.CodeAnalysis;

namespace NatFramework.Generators.Tests;

/// <summary>Each diagnostic fires on the mistake it names, says how to fix it, and blocks generation when it is an error.</summary>
public sealed class DiagnosticTests
{
    private const string Usings = "using System; using System.Collections.Generic; using System.Threading; using System.Threading.Tasks; using NatFramework;\nnamespace Consumer;\n";

    private const string GoodStoreBody = """
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
        """;

    private static string Store(string header = "public sealed class S : INatStore", string extra = "") => Usings + header + "\n" + GoodStoreBody + extra + "\n}\n";

    private static Diagnostic Single(string source, string id, out GeneratorRunResult run)
    {
        (_, var diagnostics, run) = GeneratorHarness.Run(source);
        return Assert.Single(diagnostics, d => d.Id == id);
    }

    [Fact]
    public void NAT0001_translator_not_partial()
    {
        var d = Single(Store() + "[NatTranslator(typeof(S))] public sealed class T { }", "NAT0001", out var run);

        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Contains("declare it 'partial'", d.GetMessage());
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void NAT0002_translator_nested()
    {
        var d = Single(Store() + "public static partial class Outer { [NatTranslator(typeof(S))] public sealed partial class T { } }", "NAT0002", out var run);

        Assert.Contains("move it to namespace level", d.GetMessage());
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void NAT0003_translator_generic()
    {
        var d = Single(Store() + "[NatTranslator(typeof(S))] public sealed partial class T<X> { }", "NAT0003", out var run);

        Assert.Contains("remove its type parameters", d.GetMessage());
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void NAT0004_store_without_contract()
    {
        var d = Single(Usings + "public sealed class S { }\n[NatTranslator(typeof(S))] public sealed partial class T;", "NAT0004", out var run);

        Assert.Contains("implement INatStore for an in-process store or IAsyncNatStore", d.GetMessage());
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void NAT0005_store_with_both_contracts()
    {
        const string asyncMembers = """
                public ValueTask<NatLookup> LookupAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default) => default;
                public ValueTask<NatInsertOutcome> InsertAsync(NatConnection connection, NatInsertRules rules, CancellationToken cancellationToken = default) => default;
                public ValueTask TouchAsync(FlowKey key, long now, CancellationToken cancellationToken = default) => default;
                public ValueTask<NatConnectionFlags?> UpdateStateAsync(FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now, CancellationToken cancellationToken = default) => default;
            public ValueTask<NatMapping> FindMappingAsync(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, ExpiryCutoffs expiry, CancellationToken cancellationToken = default) => default;
                public ValueTask<NatLookup> RemoveAsync(FlowKey key, CancellationToken cancellationToken = default) => default;
                public ValueTask<bool> ContainsAsync(FlowKey key, ExpiryCutoffs expiry, CancellationToken cancellationToken = default) => default;
                public ValueTask ClearAsync(CancellationToken cancellationToken = default) => default;
                public IAsyncEnumerable<NatConnection> GetConnectionsAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
            """;
        var d = Single(Store("public sealed class S : INatStore, IAsyncNatStore", asyncMembers) + "[NatTranslator(typeof(S))] public sealed partial class T;", "NAT0005", out var run);

        Assert.Contains("implement only one", d.GetMessage());
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void NAT0006_store_not_sealed_is_a_warning_and_still_generates()
    {
        var d = Single(Store("public class S : INatStore") + "[NatTranslator(typeof(S))] public sealed partial class T;", "NAT0006", out var run);

        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Contains("declare it 'sealed'", d.GetMessage());
        Assert.Single(run.GeneratedSources);
    }

    [Fact]
    public void NAT0007_more_than_one_attribute()
    {
        var d = Single(Store() + "[NatTranslator(typeof(S))][NatTranslator(typeof(S))] public sealed partial class T;", "NAT0007", out var run);

        Assert.Contains("keep one", d.GetMessage());
        Assert.Empty(run.GeneratedSources);
    }

    [Theory]
    [InlineData("public void LookupBatch(ReadOnlySpan<FlowKey> keys, long expiredBefore, Span<NatLookup> results) { }", "batch lookup")]
    [InlineData("public void RemoveConnections(Ipv4Address host) { }", "host index")]
    [InlineData("public bool TryLookupRewrite(in FlowKey key, long now, long expiredBefore, out FlowRewrite rewrite) { rewrite = default; return false; }", "rewrite lookup")]
    [InlineData("public void LookupRewriteBatch(ReadOnlySpan<FlowKey> keys, long now, Span<FlowRewrite> results) { }", "rewrite lookup")]
    [InlineData("public void ConfigureExpiry(TimeSpan timeout) { }", "native expiry")]
    [InlineData("public long GetStatistics() => 0;", "statistics")]
    [InlineData("public int PortClassOf(in FlowKey outbound) => 0;", "port classes")]
    public void NAT0008_capability_member_with_the_wrong_shape(string member, string capability)
    {
        var d = Single(Store(extra: member) + "[NatTranslator(typeof(S))] public sealed partial class T;", "NAT0008", out var run);

        Assert.Contains(capability, d.GetMessage());
        Assert.Contains("declare it as", d.GetMessage());
        Assert.Equal("Source0.cs", d.Location.GetLineSpan().Path);
        Assert.Empty(run.GeneratedSources);
    }

    /// <summary>The mistake is reported as a NAT diagnostic, nothing is generated, and no error comes from generated code.</summary>
    private static Diagnostic Caught(string source, string id)
    {
        var d = Single(source, id, out var run);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Empty(run.GeneratedSources);
        Assert.True(d.Location.IsInSource, "reported at a source location, so #pragma and .editorconfig apply");
        Assert.EndsWith("README.md#declaring-a-translator-for-a-store", d.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        return d;
    }

    [Theory]
    [InlineData("public struct S : INatStore", "a struct")]
    [InlineData("public interface IS : INatStore { }\npublic sealed class S : IS", "an interface")]
    public void NAT0009_store_that_is_not_a_class(string header, string kind)
    {
        string target = kind == "an interface" ? "IS" : "S";
        var source = header.Contains("interface")
            ? Store(header.Split('\n')[1]).Replace("namespace Consumer;\n", "namespace Consumer;\n" + header.Split('\n')[0] + "\n")
            : Store(header);
        var d = Caught(source + $"[NatTranslator(typeof({target}))] public sealed partial class T;", "NAT0009");

        Assert.Contains(kind, d.GetMessage());
        Assert.Contains("sealed class", d.GetMessage());
    }

    [Fact]
    public void NAT0010_static_translator()
    {
        var d = Caught(Store() + "[NatTranslator(typeof(S))] public static partial class T { }", "NAT0010");

        Assert.Contains("remove 'static'", d.GetMessage());
    }

    [Theory]
    [InlineData("internal sealed class S : INatStore", "[NatTranslator(typeof(S))] public sealed partial class T;", "make the translator internal or the store public")]
    [InlineData("file sealed class S : INatStore", "[NatTranslator(typeof(S))] internal sealed partial class T;", "remove 'file'")]
    public void NAT0011_store_less_accessible_than_the_translator(string header, string translator, string fix)
    {
        var d = Caught(Store(header) + translator, "NAT0011");

        Assert.Contains(fix, d.GetMessage());
    }

    [Fact]
    public void An_internal_translator_of_an_internal_store_is_fine()
    {
        var (output, diagnostics, run) = GeneratorHarness.Run(Store("internal sealed class S : INatStore") + "[NatTranslator(typeof(S))] internal sealed partial class T;");

        Assert.Empty(diagnostics);
        Assert.Single(run.GeneratedSources);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void NAT0012_record_translator()
    {
        var d = Caught(Store() + "[NatTranslator(typeof(S))] public sealed partial record T;", "NAT0012");

        Assert.Contains("'partial class'", d.GetMessage());
    }

    [Fact]
    public void Explicitly_implemented_contract_is_called_through_the_interface()
    {
        var explicitStore = Usings + """
            public sealed class S : INatStore
            {
                bool INatStore.TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup) { lookup = default; return false; }
                public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing) { existing = default; return NatInsertStatus.Inserted; }
                public void Touch(in FlowKey key, long now) { }
                public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now) => null;
            public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping) { mapping = default; return false; }
                public bool Remove(in FlowKey key, out NatConnection removed) { removed = default; return false; }
                public bool Contains(in FlowKey key, in ExpiryCutoffs expiry) => false;
                public void Clear() { }
                public IEnumerable<NatConnection> Connections => Array.Empty<NatConnection>();
            }
            [NatTranslator(typeof(S))] public sealed partial class T;
            """;

        var (output, diagnostics, run) = GeneratorHarness.Run(explicitStore);

        Assert.Empty(diagnostics);
        Assert.Contains("((global::NatFramework.INatStore)_store).TryLookup", run.GeneratedSources.Single().SourceText.ToString());
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void Every_descriptor_is_listed_in_the_unshipped_release_file()
    {
        var releases = File.ReadAllText(Path.Combine(SourceDirectory(), "..", "..", "generators", "NatFramework.Generators", "AnalyzerReleases.Unshipped.md"));
        foreach (var id in Enumerable.Range(1, 12).Select(i => $"NAT{i:D4}"))
            Assert.Contains(id + " |", releases);
    }

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
