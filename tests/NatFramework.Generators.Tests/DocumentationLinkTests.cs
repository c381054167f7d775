using System.Text.RegularExpressions;

namespace NatFramework.Generators.Tests;

/// <summary>
/// Every relative link of the documentation resolves: the file or folder it names exists in the repository, and a
/// <c>#fragment</c> names a heading of the Markdown file it points into (GitHub's anchors: lower case, punctuation
/// dropped, spaces as hyphens).
/// </summary>
public sealed partial class DocumentationLinkTests
{
    [GeneratedRegex(@"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*#*\s*$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex("```.*?```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    public static TheoryData<string> Documents() => [.. RepositoryFiles.Markdown()];

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_relative_link_resolves(string file)
    {
        string text = CodeBlock().Replace(RepositoryFiles.Read(file), "");
        var dead = new List<string>();
        foreach (Match match in Link().Matches(text))
        {
            string target = match.Groups[1].Value;
            if (Regex.IsMatch(target, "^[a-z]+:", RegexOptions.IgnoreCase)) continue; // https:, mailto:
            string path = target.Split('#')[0], fragment = target.Contains('#') ? target[(target.IndexOf('#') + 1)..] : "";
            string resolved = path.Length == 0 ? file : Path.GetRelativePath(RepositoryFiles.Root,
                Path.GetFullPath(Path.Combine(RepositoryFiles.Root, Path.GetDirectoryName(file) ?? "", Uri.UnescapeDataString(path)))).Replace('\\', '/');
            string full = Path.Combine(RepositoryFiles.Root, resolved);
            if (resolved.StartsWith("..", StringComparison.Ordinal)) dead.Add($"{target} (outside the repository)");
            else if (!File.Exists(full) && !Directory.Exists(full)) dead.Add($"{target} (no {resolved})");
            else if (fragment.Length > 0 && !(File.Exists(full) && AnchorsOf(RepositoryFiles.Read(resolved)).Contains(fragment)))
                dead.Add($"{target} (no heading #{fragment} in {resolved})");
        }
        Assert.True(dead.Count == 0, $"{file}: dead links: " + string.Join("; ", dead));
    }

    [Fact]
    public void The_anchors_are_githubs()
    {
        var anchors = AnchorsOf("## AF_XDP ports (`--port xdp`)\n## Where a ping's time goes\n### The generator's diagnostics");
        Assert.Contains("af_xdp-ports---port-xdp", anchors);
        Assert.Contains("where-a-pings-time-goes", anchors);
        Assert.Contains("the-generators-diagnostics", anchors);
    }

    private static HashSet<string> AnchorsOf(string markdown)
        => CodeBlock().Replace(markdown, "").Split('\n').Select(line => Heading().Match(line)).Where(m => m.Success)
            .Select(m => Regex.Replace(m.Groups[1].Value.ToLowerInvariant(), @"[^\p{L}\p{Nd}\s_-]", "").Replace(' ', '-'))
            .ToHashSet();
}
