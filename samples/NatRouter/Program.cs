using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using NatFramework;

namespace NatRouter;

/// <summary>
/// The sample router host. <c>NatRouter run --private-tun NAME --public-tun NAME --public-ip A.B.C.D [options]</c> opens
/// (creating) both TUN interfaces, prints a line containing <c>ready</c>, and routes until SIGTERM or Ctrl-C; it neither
/// addresses nor brings up the interfaces (the caller does, as the comparison script and the tests do). <c>NatRouter demo</c> is the guided tour.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is [var first, ..] && first.StartsWith("helper-", StringComparison.Ordinal)) return DemoHelpers.Run(args);
        var privateTun = new Option<string>("--private-tun", "--private-if") { Description = "the inside interface (a TUN; with --port xdp an Ethernet interface)", Required = true };
        var publicTun = new Option<string>("--public-tun", "--public-if") { Description = "the outside interface", Required = true };
        var port = new Option<string>("--port")
        {
            Description = "tun: TUN interfaces (opened, created if needed); xdp: existing Ethernet interfaces (veth, NIC) through AF_XDP sockets, ARP answered by the router",
            DefaultValueFactory = _ => "tun",
        };
        var publicGateway = new Option<string?>("--public-gateway") { Description = "with --port xdp: the outside next hop (default: every destination is on the link)" };
        var publicIp = new Option<string>("--public-ip") { Description = "the address inside hosts are translated to", Required = true };
        var privateNet = new Option<string>("--private-net") { Description = "the inside network (CIDR)", DefaultValueFactory = _ => "10.77.0.0/24" };
        var privateNetns = new Option<string?>("--private-netns") { Description = "attach to the inside TUN in this network namespace (a persistent device prepared there)" };
        var publicNetns = new Option<string?>("--public-netns") { Description = "attach to the outside TUN in this network namespace" };
        var mtu = new Option<int>("--mtu") { Description = "the MTU of both interfaces", DefaultValueFactory = _ => 1500 };
        var store = new Option<string>("--store") { Description = "the NAT table: lru (in memory), redis (shared) or litedb (survives restarts)", DefaultValueFactory = _ => "lru" };
        var redis = new Option<string>("--redis") { Description = "the Redis connection string, for --store redis", DefaultValueFactory = _ => "127.0.0.1:6379" };
        var redisTimeout = new Option<int>("--redis-timeout-ms") { Description = "how long a Redis operation may take before the store counts as down", DefaultValueFactory = _ => 250 };
        var redisShards = new Option<int>("--redis-shards")
        {
            Description = "spread the Redis table over this many shards (one per master of a Redis Cluster); every router on the table must say the same",
            DefaultValueFactory = _ => 1,
        };
        var litedb = new Option<string>("--litedb") { Description = "the table file, for --store litedb", DefaultValueFactory = _ => "nat.db" };
        var forwards = new Option<string[]>("--forward") { Description = "a port forward such as tcp:8080=10.77.0.2:80 (repeatable)", AllowMultipleArgumentsPerToken = false };
        var offload = new Option<bool>("--offload") { Description = "TUN offloads (64 KiB TCP segment trains, checksums finished by the kernel)", DefaultValueFactory = _ => true };
        var napi = new Option<bool>("--napi")
        {
            Description = "NAPI on the TUNs' writes (IFF_NAPI): the kernel takes written packets into its stack in batches, not inside each write",
            DefaultValueFactory = _ => true,
        };
        var tcpTimeout = new Option<int>("--tcp-timeout") { Description = "seconds an idle TCP connection is kept", DefaultValueFactory = _ => 7440 };
        var udpTimeout = new Option<int>("--udp-timeout") { Description = "seconds an idle UDP flow is kept", DefaultValueFactory = _ => 300 };
        var icmpTimeout = new Option<int>("--icmp-timeout") { Description = "seconds an idle ICMP query id is kept", DefaultValueFactory = _ => 60 };
        var transitoryTimeout = new Option<int>("--tcp-transitory-timeout")
        {
            Description = "seconds an idle TCP connection is kept before its handshake completes, after FINs both ways or after a RST", DefaultValueFactory = _ => 240,
        };
        var tcpPerHost = new Option<int>("--tcp-per-host") { Description = "TCP connections one inside host may have (0: no limit)", DefaultValueFactory = _ => 0 };
        var udpPerHost = new Option<int>("--udp-per-host") { Description = "UDP flows one inside host may have (0: no limit)", DefaultValueFactory = _ => 0 };
        var icmpPerHost = new Option<int>("--icmp-per-host") { Description = "ICMP query ids one inside host may have (0: no limit)", DefaultValueFactory = _ => 0 };
        var mapping = new Option<string>("--mapping")
        {
            Description = "how inside endpoints are mapped: ei (endpoint-independent, one public port per inside endpoint) or apd (a port per connection)",
            DefaultValueFactory = _ => "ei",
        };
        var filtering = new Option<string>("--filtering")
        {
            Description = "which unsolicited packets reach a mapping: ei (anyone), ad (addresses the inside endpoint sent to) or apd (none)",
            DefaultValueFactory = _ => "ad",
        };
        var hairpin = new Option<bool>("--hairpin") { Description = "inside hosts reach each other through their public endpoints", DefaultValueFactory = _ => true };
        var preservePorts = new Option<bool>("--preserve-ports") { Description = "try an inside endpoint's own port as its public port first", DefaultValueFactory = _ => false };
        var tcpCapacity = new Option<int>("--tcp-capacity") { Description = "TCP connections the table holds (LRU: least recently used evicted beyond)", DefaultValueFactory = _ => 65_536 };
        var udpCapacity = new Option<int>("--udp-capacity") { Description = "UDP flows the table holds", DefaultValueFactory = _ => 65_536 };
        var icmpCapacity = new Option<int>("--icmp-capacity") { Description = "ICMP query ids the table holds", DefaultValueFactory = _ => 4_096 };
        var spin = new Option<int>("--spin-us")
        {
            Description = "microseconds a thread keeps polling after the last packet: latency for CPU (0 = sleep at once, up to 10000; -1 = poll all the time, one core busy)",
            DefaultValueFactory = _ => 1000,
        };
        var cpuLatency = new Option<int>("--cpu-latency-us")
        {
            Description = "hold idle CPUs to states they leave within this many microseconds while routing (Linux PM QoS, root; 0 = idle CPUs poll: "
                + "a sleeping router wakes at once, at the cost of busy idle CPUs; -1 = leave them alone)",
            DefaultValueFactory = _ => -1,
        };
        var threads = new Option<int>("--threads") { Description = "reading threads: 2 (one per interface) or 1 (one for both)", DefaultValueFactory = _ => 2 };
        var queues = new Option<int>("--queues")
        {
            Description = "queues per interface (multi-queue TUN; with --port xdp, receive queues 0 to N-1), each pair worked by its own thread: one lane per core (0 = as many as the machine has cores; 1 = a plain TUN)",
            DefaultValueFactory = _ => 1,
        };
        var summary = new Option<int>("--summary-seconds") { Description = "how often the one-line summary is logged", DefaultValueFactory = _ => 5 };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "the least the log shows: Trace, Debug (adds stack traces of start-up failures), Information, Warning, Error", DefaultValueFactory = _ => LogLevel.Information };
        var run = new Command("run", "Route between two TUN interfaces (or, with --port xdp, two Ethernet interfaces) through a NAT table (--store lru, redis or litedb).")
        {
            privateTun, publicTun, port, publicGateway, publicIp, privateNet, privateNetns, publicNetns, mtu, store, redis, redisTimeout, redisShards, litedb, forwards, offload, napi,
            tcpTimeout, udpTimeout, icmpTimeout, transitoryTimeout, tcpCapacity, udpCapacity, icmpCapacity, tcpPerHost, udpPerHost, icmpPerHost,
            mapping, filtering, hairpin, preservePorts, summary, spin, cpuLatency, threads, queues, logLevel,
        };
        run.SetAction(result =>
        {
            if (!Ipv4Address.TryParse(result.GetValue(publicIp)!, out var publicAddress))
                return Refuse($"--public-ip '{result.GetValue(publicIp)}' is not an IPv4 address.");
            string networkText = result.GetValue(privateNet)!;
            if (!networkText.Contains('/') || !Ipv4Prefix.TryParse(networkText, out var network))
                return Refuse($"--private-net '{networkText}' must be a network with its prefix length, such as 10.77.0.0/24 (host bits zero).");
            var rules = new List<ForwardRule>();
            foreach (var text in result.GetValue(forwards) ?? [])
            {
                if (!ForwardRule.TryParse(text, out var rule))
                    return Refuse($"--forward '{text}' must look like tcp:8080=10.77.0.2:80 (ports 1–65535).");
                rules.Add(rule!);
            }
            Ipv4Address? gatewayAddress = null;
            if (result.GetValue(publicGateway) is { } gatewayText)
            {
                if (!Ipv4Address.TryParse(gatewayText, out var parsedGateway)) return Refuse($"--public-gateway '{gatewayText}' is not an IPv4 address.");
                gatewayAddress = parsedGateway;
            }
            if (!BehaviorNames.TryParseMapping(result.GetValue(mapping)!, out var mappingBehavior))
                return Refuse($"--mapping '{result.GetValue(mapping)}' is not one of ei, apd.");
            if (!BehaviorNames.TryParseFiltering(result.GetValue(filtering)!, out var filteringBehavior))
                return Refuse($"--filtering '{result.GetValue(filtering)}' is not one of ei, ad, apd.");
            var nat = new NatOptions
            {
                PreservePorts = result.GetValue(preservePorts),
                TcpTimeout = TimeSpan.FromSeconds(result.GetValue(tcpTimeout)),
                UdpTimeout = TimeSpan.FromSeconds(result.GetValue(udpTimeout)),
                IcmpTimeout = TimeSpan.FromSeconds(result.GetValue(icmpTimeout)),
                TcpTransitoryTimeout = TimeSpan.FromSeconds(result.GetValue(transitoryTimeout)),
                TcpCapacity = result.GetValue(tcpCapacity),
                UdpCapacity = result.GetValue(udpCapacity),
                IcmpCapacity = result.GetValue(icmpCapacity),
            };
            var options = new RouterOptions
            {
                PrivateTun = result.GetValue(privateTun)!,
                PublicTun = result.GetValue(publicTun)!,
                Port = result.GetValue(port)!,
                PublicGateway = gatewayAddress,
                PrivateNetns = result.GetValue(privateNetns),
                PublicNetns = result.GetValue(publicNetns),
                PublicAddress = publicAddress,
                PrivateNetwork = network,
                Mtu = result.GetValue(mtu),
                Forwards = rules,
                Store = result.GetValue(store)!,
                Redis = result.GetValue(redis)!,
                RedisTimeout = TimeSpan.FromMilliseconds(Math.Max(1, result.GetValue(redisTimeout))),
                RedisShards = result.GetValue(redisShards),
                LiteDb = result.GetValue(litedb)!,
                Offload = result.GetValue(offload),
                Napi = result.GetValue(napi),
                Nat = nat,
                SummaryInterval = TimeSpan.FromSeconds(Math.Max(1, result.GetValue(summary))),
                SpinTime = result.GetValue(spin) == -1 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMicroseconds(result.GetValue(spin)),
                CpuLatency = result.GetValue(cpuLatency) == -1 ? null : TimeSpan.FromMicroseconds(result.GetValue(cpuLatency)),
                Threads = Math.Clamp(result.GetValue(threads), 1, 2),
                Queues = result.GetValue(queues) == 0 ? Environment.ProcessorCount : result.GetValue(queues),
                LogLevel = result.GetValue(logLevel),
                TcpConnectionsPerHost = result.GetValue(tcpPerHost),
                UdpConnectionsPerHost = result.GetValue(udpPerHost),
                IcmpConnectionsPerHost = result.GetValue(icmpPerHost),
                Mapping = mappingBehavior,
                Filtering = filteringBehavior,
                Hairpinning = result.GetValue(hairpin),
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                return Refuse(e.Message);
            }
            return Run(options);
        });
        var demo = new Command("demo", "As root: build two namespaces and TUNs, send ping, HTTP, UDP, a port forward (from outside and, hairpinned, from inside), an ICMP error, a fragmented ping and a TTL-1 probe through the router, show the counters, clean up.");
        demo.SetAction(_ => Demo.Run());
        var root = new RootCommand("NatFramework sample router: NAT between a private and a public TUN interface.") { run, demo };
        return root.Parse(args).Invoke();
    }

    /// <summary>A command line the router cannot run with: one line on standard error, exit code 2, nothing opened.</summary>
    private static int Refuse(string reason)
    {
        Console.Error.WriteLine($"NatRouter: {reason}");
        return 2;
    }

    /// <summary>
    /// Runs the router as a hosted service until SIGTERM or Ctrl-C; 1 with a one-line message when it cannot start (the
    /// stack trace only at <c>--log-level Debug</c>).
    /// </summary>
    public static int Run(RouterOptions options)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ApplicationName = "NatRouter" });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // The host logs a failed start with the whole exception; the router says it in one line below instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", options.LogLevel <= LogLevel.Debug ? options.LogLevel : LogLevel.Critical);
        // Logs go to standard error: standard output carries only the `ready` line the harness waits for.
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss ";
        });
        builder.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton(options);
        builder.Services.AddHostedService<RouterService>();
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NatRouter");
        try
        {
            host.Run();
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogDebug(e, "Start-up failed");
            Console.Error.WriteLine($"NatRouter could not start: {e.Message}");
            return 1;
        }
    }
}
