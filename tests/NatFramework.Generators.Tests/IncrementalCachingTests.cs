using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NatFramework.Generators.Tests;

public sealed class IncrementalCachingTests
{
    [Fact]
    public void Unrelated_edit_leaves_every_step_cached_or_unchanged()
    {
        var compilation = GeneratorHarness.Compile(StoreSources.SyncStore, "namespace Consumer; public static class Other { public static int Value => 1; }");
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation);

        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Last(),
            CSharpSyntaxTree.ParseText("namespace Consumer; public static class Other { public static int Value => 2; }", GeneratorHarness.ParseOptions, path: "Source1.cs"));
        driver = driver.RunGenerators(edited);

        var result = driver.GetRunResult().Results.Single();
        string[] steps = [NatTranslatorGenerator.ParseStep, NatTranslatorGenerator.ModelStep];
        foreach (var step in steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} was not tracked");
            foreach (var run in result.TrackedSteps[step])
                foreach (var (_, reason) in run.Outputs)
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
        }
        foreach (var (_, reason) in result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(r => r.Outputs))
            Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output: {reason}");
    }

    [Fact]
    public void Editing_the_store_regenerates()
    {
        var compilation = GeneratorHarness.Compile(StoreSources.SyncStore);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation);
        var withoutHostIndex = StoreSources.SyncStore.Replace(", INatHostIndex", "").Replace("public int RemoveConnections(Ipv4Address host, List<NatConnection> removed) => 0;", "");

        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.Single(),
            CSharpSyntaxTree.ParseText(withoutHostIndex, GeneratorHarness.ParseOptions, path: "Source0.cs")));

        var generated = driver.GetRunResult().Results.Single().GeneratedSources.Single().SourceText.ToString();
        Assert.Contains("public static bool HasHostIndex => false;", generated);
    }
}
