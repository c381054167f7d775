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
        Assert.Contains("inside: received 3, sent 3; outside: received 3, sent 3", stopped);
        Assert.Single(router.Output); // standard output carries the ready line only; logs go to standard error
    }

    [SkippableFact]
    public void Run_on_xdp_ports_says_so_routes_answers_arp_and_detaches_when_it_stops()
    {
        string? reason = RouterNetwork.WhyNotXdp();
        Skip.If(reason is not null, reason);
        using var network = new RouterNetwork(attach: false, port: "xdp");
        using var router = new RouterProcess("run", "--port", "xdp", "--private-if", network.PrivateTun, "--private-netns", network.RouterNamespace!,
            "--public-if", network.PublicTun, "--public-netns", network.RouterNamespace!, "--public-ip", "198.51.100.1", "--summary-seconds", "1");

        Assert.True(router.WaitFor(r => r.Output.Any(l => l.Contains("ready", StringComparison.Ordinal)), TimeSpan.FromSeconds(60)), router.ToString());
        Assert.Contains(router.Output, l => l.Contains(", port xdp (", StringComparison.Ordinal));
        var (code, output) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2");
        Assert.True(code == 0, output + router);
        Assert.True(router.WaitFor(r => r.Errors.Any(l => l.Contains("translated 6", StringComparison.Ordinal)
            && l.Contains($"{network.PrivateTun}: arp requests 0 replies 1", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)), router.ToString());

        Assert.Equal(0, router.Stop(TimeSpan.FromSeconds(20)));
        // The link's XDP program went with the router: the interface is the kernel's again.
        var (_, link) = network.In(network.RouterNamespace!, "ip", "link", "show", network.PrivateTun);
        Assert.DoesNotContain("xdp", link);
    }

    [SkippableFact]
    public void Run_holds_the_cpu_latency_asked_for_while_it_routes_and_lets_go_when_it_stops()
    {
        string? reason = RouterNetwork.WhyNot();
        Skip.If(reason is not null, reason);
        Skip.If(!File.Exists(CpuLatencyRequest.DevicePath), $"{CpuLatencyRequest.DevicePath} is missing: no CPU latency requests on this kernel");
        var before = CpuLatencyRequest.Current();
        using var network = new RouterNetwork(attach: false);
        using var router = new RouterProcess("run", "--private-tun", network.PrivateTun, "--private-netns", network.Inside,
            "--public-tun", network.PublicTun, "--public-netns", network.Outside, "--public-ip", "198.51.100.1", "--cpu-latency-us", "0");

        Assert.True(router.WaitFor(r => r.Output.Any(l => l.Contains("ready", StringComparison.Ordinal)), TimeSpan.FromSeconds(60)), router.ToString());
        Assert.Contains(router.Output, l => l.EndsWith(", cpu latency 0 us", StringComparison.Ordinal));
        Assert.Equal(TimeSpan.Zero, CpuLatencyRequest.Current());
        var (code, output) = network.In(network.Inside, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2");
        Assert.True(code == 0, output + router);

        Assert.Equal(0, router.Stop(TimeSpan.FromSeconds(20)));
        Assert.Equal(before, CpuLatencyRequest.Current());
    }

    [Theory]
    [InlineData("--public-ip", "--public-ip 0.0.0.0")]
    [InlineData("--public-ip", "--public-ip 224.0.0.5")]
    [InlineData("--public-ip", "--public-ip 10.77.0.9")]
    [InlineData("--private-net", "--public-ip 198.51.100.1 --private-net 10.77.0.0")]
    [InlineData("--redis", "--public-ip 198.51.100.1 --store redis --redis 127.0.0.1:6379,password")]
    [InlineData("--forward", "--public-ip 198.51.100.1 --forward tcp:8080=192.0.2.7:80")]
    [InlineData("--forward", "--public-ip 198.51.100.1 --forward udp:53=10.77.0.2:53 --forward udp:53=10.77.0.3:5353")]
    [InlineData("--mtu", "--public-ip 198.51.100.1 --mtu 67")]
    [InlineData("--mtu", "--public-ip 198.51.100.1 --mtu 65536")]
    [InlineData("--tcp-timeout", "--public-ip 198.51.100.1 --tcp-timeout 0")]
    [InlineData("--store", "--public-ip 198.51.100.1 --store memcached")]
    [InlineData("--tcp-transitory-timeout", "--public-ip 198.51.100.1 --tcp-transitory-timeout 0")]
    [InlineData("--tcp-per-host", "--public-ip 198.51.100.1 --tcp-per-host -1")]
    [InlineData("--udp-per-host", "--public-ip 198.51.100.1 --udp-capacity 100 --udp-per-host 101")]
    [InlineData("--mapping", "--public-ip 198.51.100.1 --mapping eim")]
    [InlineData("--filtering", "--public-ip 198.51.100.1 --filtering everyone")]
    [InlineData("--filtering", "--public-ip 198.51.100.1 --mapping apd --filtering ei")]
    [InlineData("--queues", "--public-ip 198.51.100.1 --queues -1")]
    [InlineData("--queues", "--public-ip 198.51.100.1 --queues 257")]
    [InlineData("--cpu-latency-us", "--public-ip 198.51.100.1 --cpu-latency-us -2")]
    [InlineData("--port", "--public-ip 198.51.100.1 --port dpdk")]
    [InlineData("--spin-us", "--public-ip 198.51.100.1 --spin-us -2")]
    [InlineData("--spin-us", "--public-ip 198.51.100.1 --spin-us 10001")]
    [InlineData("--queues", "--public-ip 198.51.100.1 --port xdp --queues 257")]
    [InlineData("--mtu", "--public-ip 198.51.100.1 --port xdp --mtu 9000")]
    [InlineData("--public-gateway", "--public-ip 198.51.100.1 --public-gateway 198.51.100.254")]
    [InlineData("--public-gateway", "--public-ip 198.51.100.1 --port xdp --public-gateway 10.77.0.5")]
    [InlineData("--public-gateway", "--public-ip 198.51.100.1 --port xdp --public-gateway gateway")]
    public void Run_refuses_an_unusable_command_line_in_one_line_before_opening_anything(string option, string arguments)
    {
        string tun = "nrq" + Guid.NewGuid().ToString("N")[..6];
        using var router = new RouterProcess(["run", "--private-tun", tun + "a", "--public-tun", tun + "b", .. arguments.Split(' ')]);

        Assert.Equal(2, router.WaitForExit(TimeSpan.FromSeconds(60)));
        var error = Assert.Single(router.Errors);
        Assert.StartsWith("NatRouter: ", error);
        Assert.Contains(option, error);
        Assert.Empty(router.Output);
        if (Environment.UserName == "root") Assert.NotEqual(0, RouterNetwork.Run("ip", "link", "show", tun + "a").ExitCode); // no TUN was made
    }

    [SkippableFact]
    public void Run_on_xdp_ports_that_do_not_exist_exits_in_one_line_naming_the_interface()
    {
        string? reason = RouterNetwork.WhyNotXdp();
        Skip.If(reason is not null, reason);
        using var router = new RouterProcess("run", "--port", "xdp", "--private-if", "nosuchin0", "--public-if", "nosuchout0", "--public-ip", "198.51.100.1");

        Assert.Equal(1, router.WaitForExit(TimeSpan.FromSeconds(60)));
        var error = Assert.Single(router.Errors);
        Assert.StartsWith("NatRouter could not start: ", error);
        Assert.Contains("nosuchin0", error);
        Assert.DoesNotContain(router.Output, l => l.Contains("ready", StringComparison.Ordinal));
    }

    [Fact]
    public void Run_on_a_file_that_is_not_a_table_exits_in_one_line_and_leaves_the_file_as_it_was()
    {
        var folder = Directory.CreateTempSubdirectory("natframework-router-precious-").FullName;
        try
        {
            var path = Path.Combine(folder, "precious.txt");
            File.WriteAllText(path, "notes that are not a NAT table\n");
            var before = File.ReadAllBytes(path);
            using var router = new RouterProcess("run", "--private-tun", "unused0", "--public-tun", "unused1", "--public-ip", "198.51.100.1",
                "--store", "litedb", "--litedb", path);

            Assert.Equal(1, router.WaitForExit(TimeSpan.FromSeconds(60)));
            var error = Assert.Single(router.Errors);
            Assert.StartsWith("NatRouter could not start: ", error);
            Assert.Contains("precious.txt", error);
            Assert.DoesNotContain(router.Output, l => l.Contains("ready", StringComparison.Ordinal));
            Assert.Equal(before, File.ReadAllBytes(path));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public void Run_on_a_redis_that_refuses_the_credentials_exits_in_one_line()
    {
        Skip.IfNot(NatFramework.Stores.Redis.Tests.RedisServer.IsInstalled, "redis-server is not installed (bash tests/run.sh installs it)");
        using var redis = new NatFramework.Stores.Redis.Tests.RedisServer(password: "n4t-secret");
        using var router = new RouterProcess("run", "--private-tun", "unused0", "--public-tun", "unused1", "--public-ip", "198.51.100.1",
            "--store", "redis", "--redis", $"127.0.0.1:{redis.Port},password=wrong");

        Assert.Equal(1, router.WaitForExit(TimeSpan.FromSeconds(60)));
        var error = Assert.Single(router.Errors);
        Assert.StartsWith("NatRouter could not start: ", error);
        Assert.Contains("credentials", error);
        Assert.Empty(router.Output);
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
            var error = Assert.Single(router.Errors); // the reason in one line, no host log with a stack trace before it
            Assert.Contains("NatRouter could not start", error);
            Assert.Contains("nat.db", error);
            Assert.DoesNotContain(router.Output, l => l.Contains("ready", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
