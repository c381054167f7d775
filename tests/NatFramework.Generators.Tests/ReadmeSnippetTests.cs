using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NatFramework.Generators.Tests;

/// <summary>
/// Every C# snippet of the documentation (every Markdown file of the repository: the READMEs, the engine's docs, each
/// store's design) compiles against the real packages, with the generator running, given only what a reader is told to have: a service collection, a configuration, a policy, a
/// packet, and (for the store declarations) a store.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    /// <summary>What the snippets' prose says the reader has (`services`, `configuration`, `policy`), and the usings they assume.</summary>
    private const string Givens = """
        global using System;
        global using System.Collections.Generic;
        global using Microsoft.Extensions.Configuration;
        global using Microsoft.Extensions.DependencyInjection;
        global using NatFramework;
        global using NatFramework.Packets;
        global using NatFramework.StoreConformance;
        global using NatFramework.Stores.Lru;
        global using StackExchange.Redis;
        global using static Given;

        internal static class Given
        {
            public static readonly IServiceCollection services = new ServiceCollection();
            public static readonly IConfiguration configuration = new ConfigurationBuilder().Build();
            public static readonly NatPolicy policy = new();
            public static readonly byte[] packet = Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 40000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
        }
        """;

    /// <summary>The store the declaration snippets name.</summary>
    private const string MyStore = """
        public sealed class MyStore : INatStore
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
        }
        """;

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Snippet();

    /// <summary>The package READMEs and the front door, which must each show code.</summary>
    private static readonly string[] MustHaveSnippets =
    [
        "README.md", "src/NatFramework/README.md", "stores/NatFramework.Stores.Lru/README.md", "stores/NatFramework.Stores.Redis/README.md",
        "stores/NatFramework.Stores.LiteDb/README.md", "tests/NatFramework.StoreConformance/README.md",
    ];

    private static List<(string Where, string Code)> Snippets(string file)
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryFiles.Root, file));
        return Snippet().Matches(readme).Select(m => ($"{file}:{readme[..m.Index].Count(c => c == '\n') + 1}", m.Groups[1].Value)).ToList();
    }

    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).ToList();
        foreach (var type in new[]
                 {
                     typeof(INatStore), typeof(Stores.Lru.LruNatTranslator), typeof(Stores.Redis.RedisNatStore), typeof(Stores.LiteDb.LiteDbNatStore),
                     typeof(StoreConformance.NatStoreConformanceTests), typeof(Xunit.FactAttribute),
                     typeof(Microsoft.Extensions.DependencyInjection.ServiceCollection), typeof(Microsoft.Extensions.Configuration.ConfigurationBuilder),
                     typeof(StackExchange.Redis.IConnectionMultiplexer),
                 })
            paths.Add(type.Assembly.Location);
        return [.. paths.Distinct().Select(p => MetadataReference.CreateFromFile(p))];
    });

    [Theory]
    [MemberData(nameof(ReadmeFiles))]
    public void Every_snippet_compiles(string file)
    {
        var snippets = Snippets(file);
        if (MustHaveSnippets.Contains(file)) Assert.NotEmpty(snippets);
        var declarations = new List<string>();
        var failures = new List<string>();
        foreach (var (where, code) in snippets)
        {
            // Snippets with statements compile as a program of their own; declarations compile together with MyStore.
            bool statements = !Regex.IsMatch(code.TrimStart(), @"^(\[|public |internal |namespace )");
            if (statements) failures.AddRange(Errors(OutputKind.ConsoleApplication, where, code));
            else declarations.Add(code);
        }
        if (declarations.Count > 0)
            failures.AddRange(Errors(OutputKind.DynamicallyLinkedLibrary, file + " (declarations)", string.Join("\n", declarations.Prepend(MyStore))));

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    public static TheoryData<string> ReadmeFiles()
        => [.. MustHaveSnippets.Union(RepositoryFiles.Markdown().Where(file => Snippet().IsMatch(File.ReadAllText(Path.Combine(RepositoryFiles.Root, file)))))];

    private static IEnumerable<string> Errors(OutputKind kind, string where, string code)
    {
        var compilation = CSharpCompilation.Create("Snippet",
            [CSharpSyntaxTree.ParseText(Givens, GeneratorHarness.ParseOptions, path: "Givens.cs"),
             CSharpSyntaxTree.ParseText(code, GeneratorHarness.ParseOptions, path: where)],
            References.Value,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorHarness.CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        return output.GetDiagnostics().Concat(generatorDiagnostics)
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => $"{where}: {d}");
    }
}
