using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NatFramework.Generators.Diagnostics;
using NatFramework.Generators.Emit;
using NatFramework.Generators.Model;
using NatFramework.Generators.Parsing;

namespace NatFramework.Generators;

/// <summary>
/// Generates a NAT translator for every class marked <c>[NatTranslator(typeof(TStore))]</c>: the operation surface
/// with direct calls on <c>TStore</c>, synchronous or asynchronous as the store's contract is.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NatTranslatorGenerator : IIncrementalGenerator
{
    /// <summary>Tracking name of the parse step (for caching tests).</summary>
    public const string ParseStep = "NatTranslatorParse";
    /// <summary>Tracking name of the model step (for caching tests).</summary>
    public const string ModelStep = "NatTranslatorModel";
    /// <summary>Tracking name of the diagnostics step (for caching tests).</summary>
    public const string DiagnosticsStep = "NatTranslatorDiagnostics";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                KnownTypes.Attribute,
                predicate: static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax, // records: to say they cannot be
                transform: static (ctx, ct) => TranslatorParser.Parse(ctx, ct))
            .WithTrackingName(ParseStep);

        var models = parsed
            .Where(static result => result.Model is not null)
            .Select(static (result, _) => result.Model!)
            .WithTrackingName(ModelStep);

        var diagnostics = parsed
            .Select(static (result, _) => result.Diagnostics)
            .Where(static list => list.Count > 0)
            .WithTrackingName(DiagnosticsStep);

        context.RegisterSourceOutput(models, static (spc, model) => spc.AddSource(model.HintName, TranslatorEmitter.Emit(model)));
        // The diagnostics step stays cached as plain data; only reporting them meets the compilation again, to place each
        // one in its syntax tree (a real source location, which suppressions need).
        context.RegisterSourceOutput(diagnostics.Combine(context.CompilationProvider), static (spc, pair) =>
        {
            var (list, compilation) = pair;
            foreach (var info in list)
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ById(info.Id), info.Location?.ToLocation(compilation), info.Arguments.ToArray<object>()));
        });
    }
}
