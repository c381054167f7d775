using System.Text.RegularExpressions;

namespace NatFramework.Generators.Tests;

/// <summary>
/// What keeps the codebase one a newcomer can read: a short front door, no product file too long to hold one concept,
/// and documentation and comments that state what is true now, not the history of how it got there (git log keeps that).
/// </summary>
public sealed class RepositoryLimitsTests
{
    [Fact]
    public void The_front_readme_is_at_most_250_lines()
    {
        int lines = RepositoryFiles.Read("README.md").Split('\n').Length;
        Assert.True(lines <= 250, $"README.md has {lines} lines; move detail beside what it describes and link to it");
    }

    [Fact]
    public void No_product_source_file_is_over_500_lines()
    {
        var tooLong = RepositoryFiles.WithExtension(".cs")
            .Where(file => file.StartsWith("src/", StringComparison.Ordinal) || file.StartsWith("stores/", StringComparison.Ordinal)
                || file.StartsWith("generators/", StringComparison.Ordinal))
            .Select(file => (File: file, Lines: RepositoryFiles.Read(file).Split('\n').Length))
            .Where(f => f.Lines > 500)
            .Select(f => $"{f.File} ({f.Lines})")
            .ToList();
        Assert.True(tooLong.Count == 0, "split by concept: " + string.Join(", ", tooLong));
    }

    // Words that date a text to when it was written. Protocol terms ("TCP session", "the session an error is about")
    // are not among them.
    private static readonly Regex WorkPeriod = new(
        @"\b(another|a later|an earlier|the previous|the next|this|that|the same|one|each) (work )?session\b|\bthe build before\b|\bsessions? ago\b",
        RegexOptions.IgnoreCase | RegexOptions.Compiled);

    [Fact]
    public void Docs_and_comments_do_not_speak_of_work_periods()
    {
        string self = "tests/NatFramework.Generators.Tests/RepositoryLimitsTests.cs";
        var found = RepositoryFiles.Markdown()
            .Concat(RepositoryFiles.WithExtension(".cs")).Concat(RepositoryFiles.WithExtension(".sh"))
            .Where(file => file != self)
            .SelectMany(file => RepositoryFiles.Read(file).Split('\n').Select((line, i) => (file, line, i)))
            .Where(x => WorkPeriod.IsMatch(x.line))
            .Select(x => $"{x.file}:{x.i + 1}: {WorkPeriod.Match(x.line).Value}")
            .ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
    }
}
