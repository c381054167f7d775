using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NatFramework;

namespace NatRouter;

/// <summary>
/// The router as a hosted service: on start it warms the packet path up, opens the store and both TUN interfaces,
/// starts routing, publishes the metrics and prints the line containing <c>ready</c> (flushed, on standard output: the
/// harness waits for it); then it logs a one-line summary every few seconds. On stop (SIGTERM, Ctrl-C) it stops the
/// threads, closes the interfaces and disposes the store, which flushes what it has not written yet.
/// </summary>
public sealed class RouterService(RouterOptions options, IMeterFactory meters, ILoggerFactory logging, ILogger<RouterService> logger) : IHostedService, IDisposable
{
    private StoreChoice? _store;
    private IReadOnlyList<IPacketPort> _inside = [], _outside = [];
    private PacketRouter? _router;
    private RouterMetrics? _metrics;
    private Timer? _summary;
    private CpuLatencyRequest? _cpuLatency;

    /// <summary>The running router (after start).</summary>
    public PacketRouter? Router => _router;

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Settings;
        try
        {
            var nat = options.Nat.Clone();
            nat.PublicAddress = options.PublicAddress;
            nat.Policy = settings.Policy;
            nat.Validate();
            // The real store first: a file or server it cannot use is reported before anything else is done.
            _store = new StoreChoice(options.Store, nat, options.Redis, options.LiteDb, logging, options.RedisTimeout, options.RedisShards);
            using (var warmUp = StoreChoice.ForWarmUp(options.Store, nat, options.Redis, options.RedisTimeout, options.RedisShards))
            {
                if (RouterWarmUp.Run(settings, options.Offload, warmUp.Translator) == 0) logger.LogWarning("The warm-up conversation came through empty");
            }
            if (options.Port == "xdp")
            {
                _inside = XdpPort.OpenQueues(options.PrivateTun, options.Queues, settings.PrivateAddress, gateway: null, options.PrivateNetns);
                _outside = XdpPort.OpenQueues(options.PublicTun, options.Queues, options.PublicAddress, options.PublicGateway, options.PublicNetns);
            }
            else
            {
                _inside = TunDevice.OpenQueues(options.PrivateTun, options.Queues, options.Offload, options.PrivateNetns, options.Napi);
                _outside = TunDevice.OpenQueues(options.PublicTun, options.Queues, options.Offload, options.PublicNetns, options.Napi);
            }
            if (options.Port == "tun" && options.Napi && !_inside.Concat(_outside).All(queue => queue is TunDevice { UsesNapi: true }))
                logger.LogWarning("The kernel refused NAPI (IFF_NAPI) on the TUN interfaces: written packets go through its stack inside each write");
            if (options.CpuLatency is { } latency && !CpuLatencyRequest.TryHold(latency, out _cpuLatency, out string? why))
                logger.LogWarning("CPU wake-up latency left as it was ({Reason}): a sleeping router wakes as fast as the machine's idle states allow", why);
            _router = new PacketRouter(_store.Translator, settings, _inside, _outside, logger);
            _metrics = new RouterMetrics(meters, _router.Counters);
            _router.Start();
        }
        catch
        {
            Dispose();
            throw;
        }
        Console.Out.WriteLine($"ready: {options.PrivateTun} (inside {options.PrivateNetwork}) <-> {options.PublicTun} (public {options.PublicAddress}), " +
                              $"mtu {options.Mtu}, store {_store.Name}, {PortDescription()}, lanes {_router.Lanes}" +
                              (_cpuLatency is null ? "" : $", cpu latency {_cpuLatency.Latency.TotalMicroseconds:F0} us"));
        Console.Out.Flush();
        logger.LogInformation("Routing {Private} <-> {Public} as {Address} on the {Store} store, {Forwards} port forward(s)",
            options.PrivateTun, options.PublicTun, options.PublicAddress, _store.Name, options.Forwards.Count);
        _summary = new Timer(_ => logger.LogInformation("{Summary}", Summary()), null, options.SummaryInterval, options.SummaryInterval);
        return Task.CompletedTask;
    }

    /// <summary>What the `ready` line says about the interfaces: TUN offloads and NAPI, or how XDP runs.</summary>
    private string PortDescription()
    {
        if (_inside[0] is XdpPort xdp)
            return $"port xdp ({(xdp.NativeXdp ? "native" : "generic")}, {(xdp.ZeroCopy ? "zero-copy" : "copy")})";
        return $"offload {(options.Offload ? "on" : "off")}, napi {(_inside.Concat(_outside).All(queue => queue is TunDevice { UsesNapi: true }) ? "on" : "off")}";
    }

    /// <summary>The one-line summary: counters and table sizes (and, on AF_XDP ports, ARP).</summary>
    public string Summary()
    {
        if (_router is null || _store is null) return "not started";
        var table = string.Join(' ', new[] { NatProtocol.Tcp, NatProtocol.Udp, NatProtocol.Icmp }
            .Select(p => $"{p.ToString().ToLowerInvariant()} {_store.Connections(p)?.ToString() ?? "?"}"));
        // One set of counts per interface, its queues' summed (the neighbor table's count is the interface's already).
        var arp = _inside.Concat(_outside).OfType<XdpPort>().GroupBy(p => p.Name)
            .Select(q => $"; {q.Key}: arp requests {q.Sum(p => p.ArpRequestsSent)} replies {q.Sum(p => p.ArpRepliesSent)} unresolved {q.First().Unresolved}"
                + $" ignored {q.Sum(p => p.FramesIgnored)} rx-dropped {q.Aggregate(0UL, (sum, p) => sum + p.ReceiveDropped)}"
                + $" tx-ring-full {q.Sum(p => p.TransmitRefused)} tx-deferred {q.Sum(p => p.SendsDeferred)}");
        return $"{_router.Counters}; table {table}{string.Concat(arp)}";
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        string summary = Summary();
        Dispose();
        logger.LogInformation("Stopped: {Summary}", summary);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _summary?.Dispose();
        _summary = null;
        _router?.Dispose();
        _router = null;
        _metrics?.Dispose();
        _metrics = null;
        foreach (var queue in _inside.Concat(_outside)) (queue as IDisposable)?.Dispose();
        _inside = _outside = [];
        _store?.Dispose();
        _store = null;
        _cpuLatency?.Dispose();
        _cpuLatency = null;
    }
}
