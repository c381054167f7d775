using System.Diagnostics;

namespace NatFramework.Consumer.Tests;

/// <summary>
/// The five packages packed once for the test class into a local folder feed, from a copy of their sources (so the
/// repository's own build outputs are untouched), under a version no public feed has.
/// </summary>
public sealed class PackageFeed : IDisposable
{
    private static readonly string[] Packages =
    [
        "src/NatFramework/NatFramework.csproj",
        "stores/NatFramework.Stores.Lru/NatFramework.Stores.Lru.csproj",
        "stores/NatFramework.Stores.LiteDb/NatFramework.Stores.LiteDb.csproj",
        "stores/NatFramework.Stores.Redis/NatFramework.Stores.Redis.csproj",
        "tests/NatFramework.StoreConformance/NatFramework.StoreConformance.csproj",
    ];

    private readonly string _root = Directory.CreateTempSubdirectory("natframework-feed-").FullName;

    public PackageFeed()
    {
        string repository = RepositoryRoot();
        string sources = Path.Combine(_root, "sources");
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json" })
            File.Copy(Path.Combine(repository, file), Path.Combine(Directory.CreateDirectory(sources).FullName, file));
        foreach (var folder in new[] { ".analyzers", "src/NatFramework", "generators/NatFramework.Generators", "stores/NatFramework.Stores.Lru", "stores/NatFramework.Stores.LiteDb",
                     "stores/NatFramework.Stores.Redis", "tests/NatFramework.StoreConformance" })
            CopyTree(Path.Combine(repository, folder), Path.Combine(sources, folder));
        Version = "0.1.0-consumertest." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        Folder = Path.Combine(_root, "feed");
        foreach (var project in Packages) Run(sources, "pack", project, "-c", "Release", "-o", Folder, $"-p:Version={Version}");
    }

    /// <summary>The packages' version.</summary>
    public string Version { get; }

    /// <summary>The feed folder.</summary>
    public string Folder { get; }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Writes a project for Apps/<paramref name="name"/> into <paramref name="work"/>: its sources, a project file that
    /// references NatFramework and <paramref name="packages"/> ("Id" for ours at the feed's version, "Id:version" for
    /// others), and a nuget.config that adds the feed. Returns its folder.
    /// </summary>
    public string CreateApp(string work, string name, string[] packages, bool isTestProject = false, string[]? extraSources = null)
    {
        string app = Directory.CreateDirectory(Path.Combine(work, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Apps", name)))
            File.Copy(file, Path.Combine(app, Path.GetFileName(file)));
        foreach (var file in extraSources ?? []) File.Copy(file, Path.Combine(app, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <add key="natframework-local" value="{Folder}" />
              </packageSources>
            </configuration>
            """);
        var references = new[] { "NatFramework" }.Concat(packages).Select(p => p.Split(':') is [var id, var version]
            ? $"""    <PackageReference Include="{id}" Version="{version}" />"""
            : $"""    <PackageReference Include="{p}" Version="{Version}" />""");
        File.WriteAllText(Path.Combine(app, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <IsTestProject>{(isTestProject ? "true" : "false")}</IsTestProject>
              </PropertyGroup>
              <ItemGroup>
            {string.Join("\n", references)}
              </ItemGroup>
              <ItemGroup>
                <None Include="*.json" CopyToOutputDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);
        return app;
    }

    /// <summary>Runs dotnet with <paramref name="arguments"/> in <paramref name="directory"/>; fails the test unless it succeeds.</summary>
    public static string Run(string directory, params string[] arguments)
    {
        var (exitCode, output) = RunAllowingFailure(directory, arguments);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} failed ({exitCode}):\n{output}");
        return output;
    }

    /// <summary>Runs dotnet with <paramref name="arguments"/>; returns its exit code and everything it wrote.</summary>
    public static (int ExitCode, string Output) RunAllowingFailure(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // Not this repository's CI settings: the apps build as a user's would.
        start.Environment.Remove("CI");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} timed out:\n{stdout}");
        }
        return (process.ExitCode, stdout + stderr.Result);
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative.StartsWith("bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal) || relative.StartsWith("obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue;
            string target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>The repository's root (where NatFramework.sln is).</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "NatFramework.sln"))) return directory.FullName;
        throw new InvalidOperationException("NatFramework.sln not found above " + AppContext.BaseDirectory);
    }
}
