using System.Diagnostics;
using NatFramework.Stores.Redis.Tests;

namespace NatFramework.Consumer.Tests;

/// <summary>
/// The packages as a user gets them: all five packed into a local feed, then a console application, a Generic Host
/// application, a custom store's test project and a broken declaration built and run against that feed alone.
/// </summary>
public sealed class ConsumerAppTests : IClassFixture<PackageFeed>, IDisposable
{
    private readonly PackageFeed _feed;
    private readonly string _work = Directory.CreateTempSubdirectory("natframework-consumer-").FullName;
    private readonly RedisServer _redis = new();

    public ConsumerAppTests(PackageFeed feed) => _feed = feed;

    public void Dispose()
    {
        _redis.Dispose();
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [SkippableFact]
    public void A_console_app_configures_each_store_from_appsettings_and_reads_the_librarys_meter()
    {
        Skip.If(_redis.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");
        string app = _feed.CreateApp(_work, "ConsoleApp", ["NatFramework.Stores.Lru", "NatFramework.Stores.LiteDb", "NatFramework.Stores.Redis", "Microsoft.Extensions.Configuration.Json:10.0.13",
            "Microsoft.Extensions.Configuration.CommandLine:10.0.13", "Microsoft.Extensions.DependencyInjection:10.0.13"]);

        string output = PackageFeed.Run(app, "run", "-c", "Release", "--", $"--LiteDb:Path={Path.Combine(_work, "table.db")}", $"--Redis:Configuration={_redis.Configuration}");

        Assert.Contains("Lru: Translated created=True source=198.51.100.1 udp-timeout=120s", output);
        Assert.Contains("LiteDb: Translated created=True source=198.51.100.1 udp-timeout=120s", output);
        Assert.Contains("Redis: Translated created=True source=198.51.100.1 udp-timeout=120s", output);
        Assert.Contains("meter: translated=3 created=3", output);
    }

    [SkippableTheory]
    [InlineData("Lru")]
    [InlineData("LiteDb")]
    [InlineData("Redis")]
    public void A_generic_host_app_runs_on_the_store_its_configuration_names(string store)
    {
        Skip.If(store == "Redis" && _redis.Executable is null, "redis-server is not installed (bash tests/run.sh installs it as root)");
        string app = _feed.CreateApp(_work, "HostApp", ["NatFramework.Stores.Lru", "NatFramework.Stores.LiteDb", "NatFramework.Stores.Redis", "Microsoft.Extensions.Hosting:10.0.13"]);

        string output = PackageFeed.Run(app, "run", "-c", "Release", "--", $"--Store={store}", $"--LiteDb:Path={Path.Combine(_work, "host.db")}",
            $"--Redis:Configuration={(_redis.Executable is null ? "127.0.0.1:1" : _redis.Configuration)}");

        Assert.Contains($"{store}: forward Translated to 10.77.0.5; outbound Translated from 198.51.100.1", output);
    }

    [Fact]
    public void A_generic_host_app_with_an_invalid_setting_fails_at_start_naming_it()
    {
        string app = _feed.CreateApp(_work, "HostApp", ["NatFramework.Stores.Lru", "NatFramework.Stores.LiteDb", "NatFramework.Stores.Redis", "Microsoft.Extensions.Hosting:10.0.13"]);

        var (exitCode, output) = PackageFeed.RunAllowingFailure(app, "run", "-c", "Release", "--", "--Nat:UdpTimeout=-00:00:01");

        Assert.True(exitCode == 2, output);
        Assert.Contains("start-up error:", output);
        Assert.Contains("UdpTimeout must be positive", output);
    }

    [Fact]
    public void A_custom_store_passes_the_conformance_suite_from_its_package()
    {
        string tests = _feed.CreateApp(_work, "CustomStoreTests", ["NatFramework.StoreConformance", "Microsoft.NET.Test.Sdk:18.11.0", "xunit.runner.visualstudio:4.0.1"],
            isTestProject: true, extraSources: [Path.Combine(PackageFeed.RepositoryRoot(), "samples", "CustomStore", "DictionaryNatStore.cs")]);

        var (exitCode, output) = PackageFeed.RunAllowingFailure(tests, "test", "-c", "Release");

        Assert.True(exitCode == 0, output);
        var summary = System.Text.RegularExpressions.Regex.Match(output, @"Failed:\s+(\d+), Passed:\s+(\d+), Skipped:\s+(\d+)");
        Assert.True(summary.Success, output);
        Assert.Equal("0", summary.Groups[1].Value);
        Assert.True(int.Parse(summary.Groups[2].Value) > 100, output);
        Assert.Equal("0", summary.Groups[3].Value); // tests its traits exclude are left out, not skipped
    }

    [Fact]
    public void A_struct_store_is_refused_with_a_nat_diagnostic_at_its_declaration()
    {
        string app = _feed.CreateApp(_work, "StructStore", []);

        var (exitCode, output) = PackageFeed.RunAllowingFailure(app, "build", "-c", "Release");

        Assert.NotEqual(0, exitCode);
        Assert.Matches(@"Program\.cs\(\d+,\d+\): error NAT0009", output);
        Assert.DoesNotContain(".g.cs", output); // no error inside generated code
    }
}
