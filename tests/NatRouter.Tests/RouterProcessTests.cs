using System.Collections.Concurrent;
using System.Diagnostics;

namespace NatRouter.Tests;

/// <summary>
/// <c>NatRouter run</c> as its own process, as the harness and an operator run it: the `ready` line, traffic, the
/// periodic summary, a clean exit on SIGTERM, and a clear error when the store cannot be opened.
/// </summary>
public sealed class RouterProcessTests
{
    private sealed class RouterProcess : IDisposable
    {
        private readonly Process _process;
        public readonly ConcurrentQueue<string> Output = new(), Errors = new();

        public RouterProcess(params string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(typeof(PacketRouter).Assembly.Location);
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Errors.Enqueue(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public bool WaitFor(Func<RouterProcess, bool> condition, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!condition(this))
            {
                if (DateTime.UtcNow > deadline || _process.HasExited && !condition(this)) return condition(this);
                Thread.Sleep(50);
            }
            return true;
        }

        public int? Stop(TimeSpan timeout)
        {
            RouterNetwork.Run("kill", "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return WaitForExit(timeout);
        }

        public int? WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout)) return null;
            _process.WaitForExit(); // the overload without a timeout also waits for the redirected output to be read
            return _process.ExitCode;
        }

        public override string ToString() => string.Join('\n', Output) + "\n" + string.Join('\n', Errors);

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    [SkippableFact]
    public void Run_prints_ready_routes_logs_a_summary_and_exits_cleanly_on_sigterm()
    {
        string? reason = RouterNetwork.WhyNot();
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(attach: false);
        using var router = new RouterProcess("run", "--private-tun", network.PrivateTun, "--private-netns", network.Inside,
            "--public-tun", network.PublicTun, "--public-netns", network.Outside, "--public-ip", "198.51.100.1", "--summary-seconds", "1");

        Assert.True(router.WaitFor(r => r.Output.Any(l => l.Contains("ready", StringComparison.Ordinal)), TimeSpan.FromSeconds(60)), router.ToString());
        var (code, output) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2");
        Assert.True(code == 0, output + router);
        Assert.True(router.WaitFor(r => r.Errors.Any(l => l.Contains("translated 6", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)), router.ToString());

        Assert.Equal(0, router.Stop(TimeSpan.FromSeconds(20)));
        var stopped = router.Errors.FirstOrDefault(l => l.Contains("Stopped:", StringComparison.Ordinal));
        Assert.True(stopped is not null, router.ToString());
        Assert.Contains("in→out 3/3, out→in 3/3", stopped);
        Assert.Single(router.Output); // standard output carries the ready line only; logs go to standard error
    }

    [Fact]
    public void Run_on_a_locked_litedb_file_exits_with_a_clear_error()
    {
        var folder = Directory.CreateTempSubdirectory("natframework-router-locked-").FullName;
        try
        {
            var path = Path.Combine(folder, "nat.db");
            using var holder = new StoreChoice("litedb", new NatFramework.NatOptions(), "", path);
            using var router = new RouterProcess("run", "--private-tun", "unused0", "--public-tun", "unused1", "--public-ip", "198.51.100.1",
                "--store", "litedb", "--litedb", path);

            Assert.Equal(1, router.WaitForExit(TimeSpan.FromSeconds(60)));
            router.WaitFor(r => r.Errors.Any(l => l.Contains("could not start", StringComparison.Ordinal)), TimeSpan.FromSeconds(5));
            Assert.Contains(router.Errors, l => l.Contains("NatRouter could not start", StringComparison.Ordinal) && l.Contains("nat.db", StringComparison.Ordinal));
            Assert.DoesNotContain(router.Output, l => l.Contains("ready", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
