using Microsoft.CodeAnalysis;

namespace NatFramework.Generators.Tests;

/// <summary>
/// The generated code is checked into Golden/. When a change to the emitter is intended, regenerate with
/// <c>NAT_UPDATE_GOLDEN=1 dotnet test tests/NatFramework.Generators.Tests</c> and review the diff.
/// </summary>
public sealed class GoldenFileTests
{
    [Theory]
    [InlineData("SyncStore", "Consumer.TableNat.g.cs")]
    [InlineData("RewriteStore", "Consumer.Fast.FastNat.g.cs")]
    [InlineData("AsyncStore", "Consumer.Remote.RemoteNat.g.cs")]
    public void Generated_translator_matches_the_golden_file(string store, string hintName)
    {
        var (_, diagnostics, run) = GeneratorHarness.Run(Source(store));

        Assert.Empty(diagnostics);
        var generated = Assert.Single(run.GeneratedSources);
        Assert.Equal(hintName, generated.HintName);
        string actual = generated.SourceText.ToString();
        string goldenPath = Path.Combine(SourceDirectory(), "Golden", hintName);
        if (Environment.GetEnvironmentVariable("NAT_UPDATE_GOLDEN") == "1") File.WriteAllText(goldenPath, actual);
        Assert.Equal(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", hintName)).ReplaceLineEndings("\n"), actual.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("SyncStore")]
    [InlineData("RewriteStore")]
    [InlineData("AsyncStore")]
    public void Generated_code_compiles_without_warnings_under_strict_settings(string store)
    {
        var (output, diagnostics, _) = GeneratorHarness.Run(Source(store));

        Assert.Empty(diagnostics);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    private static string Source(string store) => store switch
    {
        "SyncStore" => StoreSources.SyncStore,
        "RewriteStore" => StoreSources.RewriteStore,
        _ => StoreSources.AsyncStore,
    };

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
