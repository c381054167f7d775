using System.Diagnostics;
using NatFramework;
using NatFramework.Stores.Redis.Tests;

namespace NatRouter.Tests;

/// <summary>
/// Two network namespaces joined by the router under test: inside hosts (10.77.0.2 and 10.77.0.3, /24, default route
/// into the private TUN) and outside hosts (198.51.100.2, .3 and .4, /24, on the public TUN). The TUNs are persistent devices made inside
/// the namespaces (<c>ip tuntap add</c>), so routers can come and go while the hosts keep their addresses and their
/// connections: the router runs in this process on the store named (lru, redis on a private redis-server, litedb on a
/// temporary file) and attaches to the devices from outside their namespaces. Everything made here is removed on
/// dispose, also after a failure.
/// <para>With <c>port: "xdp"</c> the links are veth pairs instead: the hosts' ends in their namespaces (checksum
/// offload off, as on a wire; the inside's default route via the router's 10.77.0.1), the router's ends in a third
/// namespace (<see cref="RouterNamespace"/>), up and unaddressed, worked through AF_XDP (<see cref="XdpPort"/>).</para>
/// </summary>
public sealed class RouterNetwork : IDisposable
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly RedisServer? _redis;
    private readonly string _folder = Directory.CreateTempSubdirectory("natframework-router-").FullName;
    private readonly string _store;
    private readonly IReadOnlyList<ForwardRule>? _forwards;
    private readonly bool _offload;
    private readonly int _threads;
    private readonly int _queues;
    private readonly int _redisShards;
    private readonly TimeSpan _redisTimeout;
    private readonly string? _sharedRedis;
    private readonly TimeSpan _spin;
    private readonly NatOptions _nat;
    private readonly int _tcpPerHost, _udpPerHost;
    private readonly NatFilteringBehavior _filtering;
    private readonly List<Process> _helpers = new();
    private readonly string _port;
    private readonly Ipv4Address? _publicGateway;
    private RunningRouter? _router;

    public RouterNetwork(string store = "lru", IReadOnlyList<ForwardRule>? forwards = null, bool offload = true, bool attach = true,
        int threads = 2, TimeSpan? spin = null, NatOptions? nat = null, int tcpPerHost = 0, int udpPerHost = 0,
        NatFilteringBehavior filtering = NatFilteringBehavior.AddressDependent, int queues = 1, string? redisConfiguration = null, int firstInsideHost = 2,
        int redisShards = 1, TimeSpan? redisTimeout = null, string port = "tun", Ipv4Address? publicGateway = null)
    {
        _port = port;
        _publicGateway = publicGateway;
        _redisTimeout = redisTimeout ?? TimeSpan.FromSeconds(2);
        _queues = queues;
        _redisShards = redisShards;
        _sharedRedis = redisConfiguration;
        _filtering = filtering;
        _nat = nat ?? new NatOptions();
        _tcpPerHost = tcpPerHost;
        _udpPerHost = udpPerHost;
        _threads = threads;
        _spin = spin ?? TimeSpan.FromMilliseconds(1);
        _store = store;
        _forwards = forwards;
        _offload = offload;
        Inside = "natin-" + _suffix;
        Outside = "natout-" + _suffix;
        PrivateTun = "ntp" + _suffix;
        PublicTun = "ntq" + _suffix;
        RouterNamespace = port == "xdp" ? "natr-" + _suffix : null;
        try
        {
            if (store == "redis" && redisConfiguration is null) _redis = new RedisServer();
            Ip("netns", "add", Inside);
            Ip("netns", "add", Outside);
            foreach (var ns in new[] { Inside, Outside }) Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
            if (RouterNamespace is not null)
            {
                BuildVethLinks(firstInsideHost);
                if (attach) _router = StartRouter();
                return;
            }
            string[] multiQueue = queues > 1 ? ["multi_queue"] : [];
            Ip(["-n", Inside, "tuntap", "add", "dev", PrivateTun, "mode", "tun", .. multiQueue]);
            // The first address is the one the inside namespace's sockets use by default.
            Ip("-n", Inside, "addr", "add", $"10.77.0.{firstInsideHost}/24", "dev", PrivateTun);
            Ip("-n", Inside, "addr", "add", $"10.77.0.{firstInsideHost + 1}/24", "dev", PrivateTun); // a second inside host
            Ip("-n", Inside, "link", "set", PrivateTun, "up");
            Ip("-n", Inside, "link", "set", "lo", "up");
            Ip("-n", Inside, "route", "add", "default", "dev", PrivateTun);
            Ip(["-n", Outside, "tuntap", "add", "dev", PublicTun, "mode", "tun", .. multiQueue]);
            Ip("-n", Outside, "addr", "add", "198.51.100.2/24", "dev", PublicTun);
            Ip("-n", Outside, "addr", "add", "198.51.100.3/24", "dev", PublicTun); // a second and a third outside host
            Ip("-n", Outside, "addr", "add", "198.51.100.4/24", "dev", PublicTun);
            Ip("-n", Outside, "link", "set", PublicTun, "up");
            Ip("-n", Outside, "link", "set", "lo", "up");
            if (attach) _router = StartRouter();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Inside { get; }

    /// <summary>With <c>port: "xdp"</c>, the namespace of the router's ends of the veth pairs; null with TUNs.</summary>
    public string? RouterNamespace { get; }

    public string Outside { get; }

    public string PrivateTun { get; }

    public string PublicTun { get; }

    /// <summary>The private redis-server (redis store only).</summary>
    public RedisServer? Redis => _redis;

    /// <summary>The Redis connection string: the one given (a server or cluster shared by several networks), or the private redis-server's.</summary>
    public string RedisConfiguration => _sharedRedis ?? _redis?.Configuration ?? "";

    /// <summary>The LiteDB table file (litedb store only).</summary>
    public string LiteDbPath => Path.Combine(_folder, "nat.db");

    /// <summary>What the routers of this network are told: the public address, the private network, the forwards.</summary>
    public RouterSettings Settings => new(Ipv4Address.Parse("198.51.100.1"), Ipv4Prefix.Parse("10.77.0.0/24"), Forwards: _forwards)
    {
        Threads = _threads, SpinTime = _spin, TcpConnectionsPerHost = _tcpPerHost, UdpConnectionsPerHost = _udpPerHost, Filtering = _filtering,
    };

    /// <summary>The router attached to the interfaces now.</summary>
    public PacketRouter Router => _router?.Router ?? throw new InvalidOperationException("No router is attached.");

    /// <summary>True when every queue of the attached router's interfaces takes its writes through NAPI (IFF_NAPI).</summary>
    public bool UsesNapi => _router is { } running && running.Inside.Concat(running.Outside).All(queue => queue is TunDevice { UsesNapi: true });

    /// <summary>The attached router's AF_XDP ports of queue 0 (inside, outside), with <c>port: "xdp"</c>.</summary>
    public (XdpPort Inside, XdpPort Outside) XdpPorts => _router is { Inside: [XdpPort inside, ..], Outside: [XdpPort outside, ..] }
        ? (inside, outside)
        : throw new InvalidOperationException("No router on AF_XDP ports is attached.");

    /// <summary>
    /// Two veth pairs: 10.77.0.x (two inside hosts) and 198.51.100.2–.4 on the hosts' ends, the router's ends in
    /// <see cref="RouterNamespace"/>. The hosts' ends finish their checksums themselves (tx offload off): an AF_XDP port
    /// takes frames as a wire carries them.
    /// </summary>
    private void BuildVethLinks(int firstInsideHost)
    {
        Ip("netns", "add", RouterNamespace!);
        Run("ip", "netns", "exec", RouterNamespace!, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
        string insideHost = "nvi" + _suffix, outsideHost = "nvo" + _suffix;
        // Both ends with as many queues as the router takes: a veth with XDP needs a receive queue per queue its peer sends on.
        string queues = _queues.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Ip("link", "add", insideHost, "netns", Inside, "numtxqueues", queues, "numrxqueues", queues,
            "type", "veth", "peer", "name", PrivateTun, "netns", RouterNamespace!, "numtxqueues", queues, "numrxqueues", queues);
        Ip("link", "add", outsideHost, "netns", Outside, "numtxqueues", queues, "numrxqueues", queues,
            "type", "veth", "peer", "name", PublicTun, "netns", RouterNamespace!, "numtxqueues", queues, "numrxqueues", queues);
        Ip("-n", Inside, "addr", "add", $"10.77.0.{firstInsideHost}/24", "dev", insideHost);
        Ip("-n", Inside, "addr", "add", $"10.77.0.{firstInsideHost + 1}/24", "dev", insideHost);
        Ip("-n", Outside, "addr", "add", "198.51.100.2/24", "dev", outsideHost);
        Ip("-n", Outside, "addr", "add", "198.51.100.3/24", "dev", outsideHost);
        Ip("-n", Outside, "addr", "add", "198.51.100.4/24", "dev", outsideHost);
        foreach (var (ns, device) in new[] { (Inside, insideHost), (Outside, outsideHost) })
        {
            var (code, output) = In(ns, "ethtool", "-K", device, "tx", "off");
            if (code != 0) throw new InvalidOperationException($"ethtool -K {device} tx off failed: {output}");
            Ip("-n", ns, "link", "set", device, "up");
            Ip("-n", ns, "link", "set", "lo", "up");
        }
        Ip("-n", Inside, "route", "add", "default", "via", "10.77.0.1");
        Ip("-n", RouterNamespace!, "link", "set", PrivateTun, "up");
        Ip("-n", RouterNamespace!, "link", "set", PublicTun, "up");
    }

    /// <summary>
    /// Opens a store like the running router's (same Redis, same LiteDB file) and its router, not attached yet: a
    /// standby. LiteDB allows one process per file, so its standby can only be made after the running one stopped.
    /// Redis operations may take 2 s here unless the test says otherwise, not 250 ms: the test projects run at once on
    /// two cores.
    /// </summary>
    public StoreChoice OpenStore()
    {
        var options = _nat.Clone();
        options.PublicAddress = Ipv4Address.Parse("198.51.100.1");
        options.Policy = Settings.Policy;
        return new(_store, options, RedisConfiguration, LiteDbPath, redisTimeout: _redisTimeout, redisShards: _redisShards);
    }

    /// <summary>Stops the attached router (its threads, its interface descriptors, its store, which flushes).</summary>
    public void StopRouter()
    {
        _router?.Dispose();
        _router = null;
    }

    /// <summary>Attaches a router on <paramref name="store"/> (a new one like the first when null) to the interfaces.</summary>
    public PacketRouter TakeOver(StoreChoice? store = null)
    {
        if (_router is not null) throw new InvalidOperationException("Stop the attached router first: a TUN device has one reader.");
        _router = StartRouter(store);
        return _router.Router;
    }

    private RunningRouter StartRouter(StoreChoice? store = null)
    {
        store ??= OpenStore();
        IReadOnlyList<IPacketPort> inside = [], outside = [];
        try
        {
            if (RouterNamespace is not null)
            {
                inside = XdpPort.OpenQueues(PrivateTun, _queues, Settings.PrivateAddress, netns: RouterNamespace);
                outside = XdpPort.OpenQueues(PublicTun, _queues, Settings.PublicAddress, _publicGateway, RouterNamespace);
            }
            else
            {
                inside = TunDevice.OpenQueues(PrivateTun, _queues, _offload, Inside, napi: true); // as the router opens them by default
                outside = TunDevice.OpenQueues(PublicTun, _queues, _offload, Outside, napi: true);
            }
            var router = new PacketRouter(store.Translator, Settings, inside, outside);
            router.Start();
            return new RunningRouter(router, inside, outside, store);
        }
        catch
        {
            foreach (var queue in inside.Concat(outside)) (queue as IDisposable)?.Dispose();
            store.Dispose();
            throw;
        }
    }

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

    /// <summary>Why the AF_XDP tests cannot run here, or null when they can: those of <see cref="WhyNot"/>, ethtool, and a kernel with AF_XDP.</summary>
    public static string? WhyNotXdp()
    {
        if (WhyNot() is { } reason) return reason;
        if (Run("ethtool", "--version").ExitCode != 0) return "ethtool is not installed (bash tests/run.sh installs it)";
        if (!XdpPort.IsSupported(out string? why)) return why;
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

    /// <summary>Starts a helper inside a namespace and waits until it says it listens (or is connected); killed on dispose.</summary>
    public Process StartHelper(string ns, params string[] helper)
    {
        var (file, prefix) = DemoHelpers.SelfCommand(typeof(PacketRouter).Assembly.Location);
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in (string[])["netns", "exec", ns, file, .. prefix, .. helper]) start.ArgumentList.Add(argument);
        // Helpers end killed; without the runtime's debugger pipes and diagnostic socket they leave nothing in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        var process = Process.Start(start)!;
        _helpers.Add(process);
        var line = ReadLine(process, TimeSpan.FromSeconds(30));
        if (line != "listening")
            throw new InvalidOperationException($"helper {helper[0]} did not start: {line} {process.StandardError.ReadToEnd()}");
        return process;
    }

    /// <summary>The helper's next line of output, or null when none came in time.</summary>
    public static string? ReadLine(Process helper, TimeSpan timeout)
    {
        var line = helper.StandardOutput.ReadLineAsync();
        return line.Wait(timeout) ? line.Result : null;
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
        StopRouter();
        _redis?.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        // Deleting a namespace removes the devices in it, persistent or not.
        Run("ip", "netns", "del", Inside);
        Run("ip", "netns", "del", Outside);
        if (RouterNamespace is not null) Run("ip", "netns", "del", RouterNamespace);
    }

    /// <summary>A router attached to the interfaces, with what it owns.</summary>
    private sealed record RunningRouter(PacketRouter Router, IReadOnlyList<IPacketPort> Inside, IReadOnlyList<IPacketPort> Outside, StoreChoice Store) : IDisposable
    {
        public void Dispose()
        {
            Router.Dispose();
            foreach (var queue in Inside.Concat(Outside)) (queue as IDisposable)?.Dispose();
            Store.Dispose();
        }
    }
}
