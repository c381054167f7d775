using System.CommandLine;
using System.Runtime.InteropServices;
using NatFramework;
using NatFramework.Stores.Lru;

namespace NatRouter;

/// <summary>
/// The sample router host: <c>NatRouter run --private-tun NAME --public-tun NAME --public-ip A.B.C.D [--private-net CIDR] [--mtu N]</c>.
/// It opens (creating) both TUN interfaces, prints a line containing <c>ready</c>, and routes until SIGTERM or Ctrl-C;
/// it neither addresses nor brings up the interfaces (see ../shared/harness/README.md). Store: <c>--store lru|redis|litedb</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is [var first, ..] && first.StartsWith("helper-", StringComparison.Ordinal)) return DemoHelpers.Run(args);
        var privateTun = new Option<string>("--private-tun") { Description = "the inside TUN interface", Required = true };
        var publicTun = new Option<string>("--public-tun") { Description = "the outside TUN interface", Required = true };
        var publicIp = new Option<string>("--public-ip") { Description = "the address inside hosts are translated to", Required = true };
        var privateNet = new Option<string>("--private-net") { Description = "the inside network (CIDR)", DefaultValueFactory = _ => "10.77.0.0/24" };
        var mtu = new Option<int>("--mtu") { Description = "the MTU of both interfaces", DefaultValueFactory = _ => 1500 };
        var store = new Option<string>("--store") { Description = "the NAT table: lru (in memory), redis (shared) or litedb (survives restarts)", DefaultValueFactory = _ => "lru" };
        var redis = new Option<string>("--redis") { Description = "the Redis connection string, for --store redis", DefaultValueFactory = _ => "127.0.0.1:6379" };
        var litedb = new Option<string>("--litedb") { Description = "the table file, for --store litedb", DefaultValueFactory = _ => "nat.db" };
        var run = new Command("run", "Route between two TUN interfaces through a NAT table (--store lru, redis or litedb).") { privateTun, publicTun, publicIp, privateNet, mtu, store, redis, litedb };
        run.SetAction(result => Run(result.GetValue(privateTun)!, result.GetValue(publicTun)!, result.GetValue(publicIp)!, result.GetValue(privateNet)!, result.GetValue(mtu),
            result.GetValue<string[]>("--forward") ?? [], result.GetValue(store)!, result.GetValue(redis)!, result.GetValue(litedb)!));
        var forwards = new Option<string[]>("--forward") { Description = "a port forward such as tcp:8080=10.77.0.2:80 (repeatable)", AllowMultipleArgumentsPerToken = false };
        run.Options.Add(forwards);
        var demo = new Command("demo", "As root: build two namespaces and TUNs, send ping, HTTP, UDP, a port forward, an ICMP error, a fragmented ping and a TTL-1 probe through the router, show the counters, clean up.");
        demo.SetAction(_ => Demo.Run());
        var root = new RootCommand("NatFramework sample router: NAT between a private and a public TUN interface.") { run, demo };
        return root.Parse(args).Invoke();
    }

    private static int Run(string privateName, string publicName, string publicIp, string privateNet, int mtu, string[] forwardTexts,
        string storeName, string redisConfiguration, string litedbPath)
    {
        if (!Ipv4Address.TryParse(publicIp, out var publicAddress) || !Ipv4Prefix.TryParse(privateNet, out var network))
        {
            Console.Error.WriteLine($"--public-ip '{publicIp}' must be an IPv4 address and --private-net '{privateNet}' a prefix such as 10.77.0.0/24.");
            return 2;
        }
        var forwards = new List<ForwardRule>();
        foreach (var text in forwardTexts)
        {
            if (!ForwardRule.TryParse(text, out var rule))
            {
                Console.Error.WriteLine($"--forward '{text}' must look like tcp:8080=10.77.0.2:80.");
                return 2;
            }
            forwards.Add(rule!);
        }
        var options = new NatOptions { PublicAddress = publicAddress };
        using var stores = new StoreChoice(storeName, options, redisConfiguration, litedbPath);
        var nat = stores.Translator;
        using var inside = TunDevice.Open(privateName);
        using var outside = TunDevice.Open(publicName);
        using var router = new PacketRouter(nat, new RouterSettings(publicAddress, network, mtu, forwards), inside, outside);
        using var stopped = new ManualResetEventSlim();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stopped.Set(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stopped.Set(); });
        router.Start();
        Console.Out.WriteLine($"ready: {privateName} (inside {network}) <-> {publicName} (public {publicAddress}), mtu {mtu}");
        Console.Out.Flush();
        while (!stopped.Wait(TimeSpan.FromSeconds(5))) Console.Error.WriteLine(router.Counters);
        Console.Error.WriteLine($"stopping: {router.Counters}");
        return 0;
    }
}
