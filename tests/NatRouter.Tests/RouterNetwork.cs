using System.Diagnostics;
using NatFramework;
using NatFramework.Stores.Redis.Tests;

namespace NatRouter.Tests;

/// <summary>
/// Two network namespaces joined by the router under test: an inside host (10.77.0.2/24, default route into the
/// private TUN) and an outside host (198.51.100.2/24 on the public TUN). The router runs in this process on the store
/// named (lru, redis on a private redis-server, litedb on a temporary file). Everything made here is removed on
/// dispose, also after a failure.
/// </summary>
public sealed class RouterNetwork : IDisposable
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly TunDevice? _privateTun;
    private readonly TunDevice? _publicTun;
    private readonly RedisServer? _redis;
    private readonly string _folder = Directory.CreateTempSubdirectory("natframework-router-").FullName;
    private readonly StoreChoice? _store;

    private readonly List<Process> _helpers = new();

    public RouterNetwork(string store = "lru", IReadOnlyList<ForwardRule>? forwards = null)
    {
        Inside = "natin-" + _suffix;
        Outside = "natout-" + _suffix;
        try
        {
            if (store == "redis") _redis = new RedisServer();
            _store = new StoreChoice(store, new NatOptions { PublicAddress = Ipv4Address.Parse("198.51.100.1") },
                _redis?.Configuration ?? "", Path.Combine(_folder, "nat.db"));
            _privateTun = TunDevice.Open("ntp" + _suffix);
            _publicTun = TunDevice.Open("ntq" + _suffix);
            Router = new PacketRouter(_store.Translator, new RouterSettings(Ipv4Address.Parse("198.51.100.1"), Ipv4Prefix.Parse("10.77.0.0/24"), Forwards: forwards), _privateTun, _publicTun);
            Router.Start();
            Ip("netns", "add", Inside);
            Ip("netns", "add", Outside);
            foreach (var ns in new[] { Inside, Outside }) Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
            Ip("link", "set", _privateTun.Name, "netns", Inside);
            Ip("-n", Inside, "addr", "add", "10.77.0.2/24", "dev", _privateTun.Name);
            Ip("-n", Inside, "link", "set", _privateTun.Name, "up");
            Ip("-n", Inside, "link", "set", "lo", "up");
            Ip("-n", Inside, "route", "add", "default", "dev", _privateTun.Name);
            Ip("link", "set", _publicTun.Name, "netns", Outside);
            Ip("-n", Outside, "addr", "add", "198.51.100.2/24", "dev", _publicTun.Name);
            Ip("-n", Outside, "link", "set", _publicTun.Name, "up");
            Ip("-n", Outside, "link", "set", "lo", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Inside { get; }

    public string Outside { get; }

    public PacketRouter Router { get; } = null!;

    /// <summary>Why these tests cannot run here on <paramref name="store"/>, or null when they can.</summary>
    public static string? WhyNot(string store = "lru")
    {
        if (store == "redis" && !RedisServer.IsInstalled) return "redis-server is not installed (bash tests/run.sh installs it)";
        if (Environment.UserName != "root") return "TUN devices and network namespaces need root (CI runs as root)";
        if (!File.Exists("/dev/net/tun")) return "/dev/net/tun is missing";
        if (Run("ip", "-V").ExitCode != 0) return "iproute2 (ip) is not installed (bash tests/run.sh installs it)";
        if (Run("ping", "-V").ExitCode != 0) return "iputils-ping is not installed (bash tests/run.sh installs it)";
        return null;
    }

    /// <summary>Runs a command inside a namespace.</summary>
    public (int ExitCode, string Output) In(string ns, params string[] command) => Run("ip", ["netns", "exec", ns, .. command]);

    /// <summary>Runs one of the router binary's helper programs inside a namespace, to completion.</summary>
    public (int ExitCode, string Output) Helper(string ns, params string[] helper)
    {
        var (file, prefix) = DemoHelpers.SelfCommand(typeof(PacketRouter).Assembly.Location);
        return Run("ip", ["netns", "exec", ns, file, .. prefix, .. helper]);
    }

    /// <summary>Starts a serving helper inside a namespace and waits until it listens; it is killed on dispose.</summary>
    public void StartHelper(string ns, params string[] helper)
    {
        var (file, prefix) = DemoHelpers.SelfCommand(typeof(PacketRouter).Assembly.Location);
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["netns", "exec", ns, file, .. prefix, .. helper]) start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        _helpers.Add(process);
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result != "listening")
            throw new InvalidOperationException($"helper {helper[0]} did not start: {process.StandardError.ReadToEnd()}");
    }

    private static void Ip(params string[] arguments)
    {
        var (code, output) = Run("ip", arguments);
        if (code != 0) throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed: {output}");
    }

    public static (int ExitCode, string Output) Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(180))) process.Kill(entireProcessTree: true);
            return (process.ExitCode, stdout + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    public void Dispose()
    {
        foreach (var helper in _helpers)
        {
            try { helper.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            helper.Dispose();
        }
        Router?.Dispose();
        _privateTun?.Dispose();
        _publicTun?.Dispose();
        _store?.Dispose();
        _redis?.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        Run("ip", "netns", "del", Inside);
        Run("ip", "netns", "del", Outside);
    }
}
