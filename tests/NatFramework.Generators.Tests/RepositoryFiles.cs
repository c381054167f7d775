namespace NatFramework.Generators.Tests;

/// <summary>The repository's own files, as the documentation and layout tests read them (build output and .git left out).</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot([System.Runtime.CompilerServices.CallerFilePath] string path = "")
        => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));

    /// <summary>Files below the root whose name ends with <paramref name="extension"/>, as paths relative to it with '/'.</summary>
    public static IEnumerable<string> WithExtension(string extension)
        => Directory.EnumerateFiles(Root, "*" + extension, SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(Root, file).Replace('\\', '/'))
            .Where(file => !file.Split('/').Any(part => part is "bin" or "obj" or ".git" or "TestResults" or "BenchmarkDotNet.Artifacts"))
            .Order(StringComparer.Ordinal);

    public static IEnumerable<string> Markdown() => WithExtension(".md");

    public static string Read(string file) => File.ReadAllText(Path.Combine(Root, file));
}
