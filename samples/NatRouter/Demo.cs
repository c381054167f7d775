using System.Diagnostics;
using NatFramework;
using NatFramework.Stores.Lru;

namespace NatRouter;

/// <summary>
/// The newcomer's tour: builds two network namespaces and the TUN interfaces, runs the router on the embedded LRU
/// store, shows traffic of every kind going through it, prints the counters, and removes everything again — also on
/// Ctrl-C or a failure. Needs root and the .NET SDK; installs iproute2 and iputils-ping with apt-get when missing.
/// </summary>
internal sealed class Demo : IDisposable
{
    private const string Inside = "natdemo-in";
    private const string Outside = "natdemo-out";
    private readonly List<Process> _helpers = new();
    private readonly CancellationTokenSource _cancel = new();
    private TunDevice? _privateTun, _publicTun;
    private PacketRouter? _router;

    public static int Run()
    {
        if (Environment.UserName != "root")
        {
            Console.Error.WriteLine("The demo creates network namespaces and TUN interfaces: run it as root (sudo).");
            return 1;
        }
        using var demo = new Demo();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            demo._cancel.Cancel();
        };
        try
        {
            return demo.Tour();
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"demo stopped: {e.Message}");
            return 1;
        }
    }

    private int Tour()
    {
        EnsureTools();
        Step("building namespaces " + Inside + " (10.77.0.2) and " + Outside + " (198.51.100.2) and the TUN interfaces");
        RemoveLeftovers();
        _privateTun = TunDevice.Open("natdemo0", offload: true, napi: true);
        _publicTun = TunDevice.Open("natdemo1", offload: true, napi: true);
        var settings = new RouterSettings(Ipv4Address.Parse("198.51.100.1"), Ipv4Prefix.Parse("10.77.0.0/24"),
            Forwards: [new ForwardRule(NatProtocol.Tcp, 8080, Ipv4Address.Parse("10.77.0.2"), 8080)]);
        RouterWarmUp.Run(settings, offload: true);
        _router = new PacketRouter(LruNatTranslator.Create(new NatOptions { PublicAddress = settings.PublicAddress, Policy = settings.Policy }), settings, _privateTun, _publicTun);
        _router.Start();
        Must("ip", "netns", "add", Inside);
        Must("ip", "netns", "add", Outside);
        foreach (var ns in new[] { Inside, Outside }) Shell("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
        Must("ip", "link", "set", "natdemo0", "netns", Inside);
        Must("ip", "-n", Inside, "addr", "add", "10.77.0.2/24", "dev", "natdemo0");
        Must("ip", "-n", Inside, "link", "set", "natdemo0", "up");
        Must("ip", "-n", Inside, "link", "set", "lo", "up");
        Must("ip", "-n", Inside, "route", "add", "default", "dev", "natdemo0");
        Must("ip", "link", "set", "natdemo1", "netns", Outside);
        Must("ip", "-n", Outside, "addr", "add", "198.51.100.2/24", "dev", "natdemo1");
        Must("ip", "-n", Outside, "link", "set", "natdemo1", "up");
        Must("ip", "-n", Outside, "link", "set", "lo", "up");
        Console.WriteLine("      router: 10.77.0.0/24 behind 198.51.100.1, port forward tcp:8080 -> 10.77.0.2:8080, LRU store");

        int failures = 0;
        failures += Check("ping from inside to the outside host", () => In(Inside, "ping", "-c", "3", "-W", "2", "198.51.100.2"), "3 received");
        StartHelper(Outside, "helper-http-serve", "198.51.100.2", "8000", "10485760");
        failures += Check("HTTP download of 10 MB from outside, checked byte for byte", () => Self(Inside, "helper-http-get", "198.51.100.2", "8000", "10485760"), "every byte as sent");
        StartHelper(Outside, "helper-udp-echo", "198.51.100.2", "5353");
        failures += Check("UDP echo through the NAT", () => Self(Inside, "helper-udp-send", "198.51.100.2", "5353", "echo"), "echoed");
        StartHelper(Inside, "helper-http-serve", "10.77.0.2", "8080", "1000000");
        failures += Check("port forward: outside fetches 198.51.100.1:8080 from the inside server", () => Self(Outside, "helper-http-get", "198.51.100.1", "8080", "1000000"), "every byte as sent");
        failures += Check("hairpinning: the inside fetches 198.51.100.1:8080 too, turned around by the router", () => Self(Inside, "helper-http-get", "198.51.100.1", "8080", "1000000"),
            "every byte as sent");
        failures += Check("ICMP error coming back: UDP to a closed port outside", () => Self(Inside, "helper-udp-send", "198.51.100.2", "9", "refused"), "port unreachable");
        failures += Check("fragmented ping (4000 bytes: reassembled, translated, fragmented again)", () => In(Inside, "ping", "-c", "2", "-W", "2", "-s", "4000", "198.51.100.2"), "2 received");
        failures += Check("traceroute's first hop: TTL 1 gets Time Exceeded from the router", () => In(Inside, "ping", "-c", "1", "-W", "2", "-t", "1", "198.51.100.2"), "Time to live exceeded",
            mustSucceed: false); // ping exits non-zero when its only answer is an ICMP error

        Console.WriteLine();
        Console.WriteLine("counters: " + _router.Counters);
        Console.WriteLine(failures == 0 ? "all steps passed; removing the namespaces and interfaces" : $"{failures} step(s) failed; removing the namespaces and interfaces");
        return failures == 0 ? 0 : 1;
    }

    private int _step;

    private void Step(string text)
    {
        _cancel.Token.ThrowIfCancellationRequested();
        Console.WriteLine($"[{++_step}] {text}");
    }

    /// <summary>Prints the step, then what it waits for, then runs it: a slow step shows what it is doing while it runs.</summary>
    private int Check(string title, Func<(int Code, string Output)> run, string expected, bool mustSucceed = true)
    {
        Step(title);
        Console.WriteLine($"      waiting for \"{expected}\" …");
        var result = run();
        bool ok = (result.Code == 0 || !mustSucceed) && result.Output.Contains(expected, StringComparison.Ordinal);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var shown = lines.Where(l => l.Contains(expected, StringComparison.Ordinal)).Take(1).Concat(lines.TakeLast(1)).Distinct();
        foreach (var line in shown) Console.WriteLine("      " + line.Trim());
        Console.WriteLine(ok ? "      ok" : "      FAILED");
        return ok ? 0 : 1;
    }

    private (int, string) Self(string ns, params string[] helper)
    {
        var (file, prefix) = DemoHelpers.SelfCommand();
        return Shell("ip", ["netns", "exec", ns, file, .. prefix, .. helper]);
    }

    private static (int, string) In(string ns, params string[] command) => Shell("ip", ["netns", "exec", ns, .. command]);

    private void StartHelper(string ns, params string[] helper)
    {
        var (file, prefix) = DemoHelpers.SelfCommand();
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["netns", "exec", ns, file, .. prefix, .. helper]) start.ArgumentList.Add(argument);
        // Helpers end killed; without the runtime's debugger pipes and diagnostic socket they leave nothing in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        var process = Process.Start(start)!;
        _helpers.Add(process);
        var line = process.StandardOutput.ReadLineAsync(_cancel.Token).AsTask();
        if (!line.Wait(TimeSpan.FromSeconds(20)) || line.Result != "listening")
            throw new InvalidOperationException($"helper {helper[0]} in {ns} did not start: {process.StandardError.ReadToEnd()}");
    }

    private static void EnsureTools()
    {
        if (Shell("ip", "-V").Item1 == 0 && Shell("ping", "-V").Item1 == 0) return;
        Console.WriteLine("installing iproute2 and iputils-ping with apt-get");
        Shell("apt-get", "update", "-qq");
        if (Shell("apt-get", "install", "-y", "-qq", "iproute2", "iputils-ping").Item1 != 0)
            throw new InvalidOperationException("iproute2 and iputils-ping are needed and could not be installed");
    }

    private static void RemoveLeftovers()
    {
        Shell("ip", "netns", "del", Inside);
        Shell("ip", "netns", "del", Outside);
    }

    private static void Must(params string[] command)
    {
        var (code, output) = Shell(command[0], command[1..]);
        if (code != 0) throw new InvalidOperationException($"{string.Join(' ', command)} failed: {output.Trim()}");
    }

    private static (int, string) Shell(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60))) process.Kill(entireProcessTree: true);
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
        _router?.Dispose();
        _privateTun?.Dispose();
        _publicTun?.Dispose();
        RemoveLeftovers();
        _cancel.Dispose();
    }
}
