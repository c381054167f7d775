using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NatFramework.Generators.Model;

/// <summary>Where a diagnostic points, as plain data (a <see cref="Location"/> would hold the syntax tree alive and defeat caching).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    /// <summary>
    /// The location in <paramref name="compilation"/>'s syntax tree of that file, so the diagnostic is a source diagnostic
    /// (<c>#pragma warning disable</c> and <c>.editorconfig</c> severities apply to it); a file location when the tree
    /// is gone.
    /// </summary>
    public Location ToLocation(Compilation compilation)
    {
        foreach (var tree in compilation.SyntaxTrees)
            if (tree.FilePath == FilePath && Span.End <= tree.Length) return Location.Create(tree, Span);
        return Location.Create(FilePath, Span, LineSpan);
    }

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null) return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }
}

/// <summary>A diagnostic as plain data: descriptor id, location and message arguments.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params string[] arguments)
        => new(descriptor.Id, LocationInfo.From(location), new EquatableArray<string>(arguments));
}

/// <summary>The parser's output for one attributed class: a model when it can be generated, and diagnostics.</summary>
internal sealed record ParseResult(TranslatorModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
