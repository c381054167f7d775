using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// Moves packets between the private and the public interface through a NAT translator, whose policy decides about new
/// flows (<see cref="RouterSettings.Policy"/>: the private network's hosts are translated, port forwards let outside
/// clients in, nothing else from outside gets in). Fragments are reassembled before lookup and the result is fragmented
/// to the MTU; the router answers TTL ≤ 1 with ICMP Time Exceeded and DF-and-too-big with ICMP Fragmentation Needed
/// (RFC 1812 §4.3.2.8 rate limit). Each interface is read on its own thread (<see cref="RouterLane"/>), or, with
/// multi-queue interfaces, each pair of queues on its own thread.
/// </summary>
public sealed class PacketRouter : IDisposable
{
    private readonly RouterSettings _settings;
    private readonly ILogger _logger;
    private readonly RouterLane[] _outbound, _inbound;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = new();
    private readonly long _spinTicks;
    private readonly bool _yieldEveryLook;
    private int _spinning;
    private readonly ManualResetEventSlim _spinEnded = new(true);
    private int _disposed;

    /// <summary>
    /// Creates a router over <paramref name="nat"/>; call <see cref="Start"/>. A translator without a policy
    /// (<see cref="NatPolicy.None"/>: it would only look up, and every new flow would go untranslated) is given
    /// <see cref="RouterSettings.Policy"/>; one with a policy of its own keeps it, which must translate the private network.
    /// </summary>
    /// <exception cref="ArgumentException">One side has TUN offloads on and the other not, or the translator's policy has no source-NAT rule for the private network.</exception>
    public PacketRouter(INatTranslator nat, RouterSettings settings, IPacketPort privateSide, IPacketPort publicSide, ILogger? logger = null)
        : this(nat, settings, [privateSide], [publicSide], logger)
    {
    }

    /// <summary>
    /// Creates a router over interfaces with several queues each (multi-queue TUN devices: the kernel hands each flow
    /// to one queue by its hash): queue <c>i</c> of the private side pairs with queue <c>i</c> of the public side, and
    /// each pair is a lane of its own, worked by its own thread, so the lanes run on as many cores as there are queues.
    /// With one queue per side, <see cref="RouterSettings.Threads"/> decides between one thread per interface and one
    /// for both.
    /// </summary>
    /// <exception cref="ArgumentException">The sides have different numbers of queues (or none), offloads differ, or the translator's policy has no source-NAT rule for the private network.</exception>
    public PacketRouter(INatTranslator nat, RouterSettings settings, IReadOnlyList<IPacketPort> privateQueues, IReadOnlyList<IPacketPort> publicQueues, ILogger? logger = null)
    {
        if (privateQueues.Count == 0 || privateQueues.Count != publicQueues.Count)
            throw new ArgumentException($"Both interfaces need the same number of queues (private {privateQueues.Count}, public {publicQueues.Count}).", nameof(publicQueues));
        if (privateQueues.Concat(publicQueues).Any(q => q.Offload != privateQueues[0].Offload))
            throw new ArgumentException("Both interfaces must have TUN offloads on, or both off.", nameof(publicQueues));
        _settings = settings;
        // Polling all the time is a spin that never runs out (a quarter of the range: adding it to a timestamp cannot overflow).
        _spinTicks = settings.SpinTime == Timeout.InfiniteTimeSpan
            ? long.MaxValue / 4
            : (long)(settings.SpinTime.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        _logger = logger ?? NullLogger.Instance;
        RequirePolicy(nat, settings, _logger);
        _yieldEveryLook = !privateQueues.Concat(publicQueues).All(queue => queue.PollsWithoutSystemCall);
        var translator = BurstTranslator.For(nat);
        var icmp = new IcmpErrorResponder(settings);
        _outbound = new RouterLane[privateQueues.Count];
        _inbound = new RouterLane[privateQueues.Count];
        for (int i = 0; i < privateQueues.Count; i++)
        {
            _outbound[i] = new RouterLane(translator, settings, Counters.NewCell(), icmp, privateQueues[i], publicQueues[i], fromInside: true);
            _inbound[i] = new RouterLane(translator, settings, Counters.NewCell(), icmp, publicQueues[i], privateQueues[i], fromInside: false);
        }
    }

    /// <summary>
    /// Gives a translator without rules the router's policy, and refuses one whose rules would translate no host of the
    /// private network: either way the router would run and forward nothing from inside, with nothing to say why.
    /// </summary>
    private static void RequirePolicy(INatTranslator nat, RouterSettings settings, ILogger logger)
    {
        var policy = nat.Policy;
        if (policy.SourceNat.Count == 0 && policy.PortForwards.Count == 0)
        {
            nat.Policy = settings.Policy;
            logger.LogInformation("The translator had no policy; it now has the router's: {Network} as {Address}, {Forwards} port forward(s)",
                settings.PrivateNetwork, settings.PublicAddress, settings.Forwards?.Count ?? 0);
            return;
        }
        var network = settings.PrivateNetwork;
        if (!policy.SourceNat.Any(rule => rule.Inside.Length <= network.Length && rule.Inside.Contains(network.Network)))
            throw new ArgumentException($"The translator's policy has no source-NAT rule for {network} (its rules: " +
                $"{(policy.SourceNat.Count == 0 ? "none" : string.Join(", ", policy.SourceNat))}), so no host of the private network could open a connection. " +
                "Give the translator RouterSettings.Policy, or a source-NAT rule of its own for that network.", nameof(nat));
    }

    /// <summary>What the router has done so far.</summary>
    public RouterCounters Counters { get; } = new();

    /// <summary>How many queue pairs (lanes) the router works.</summary>
    public int Lanes => _outbound.Length;

    /// <summary>
    /// Starts the reading threads: with one queue per side, one per interface or one for both
    /// (<see cref="RouterSettings.Threads"/>); with several, one per queue pair.
    /// </summary>
    public void Start()
    {
        if (_outbound.Length > 1)
        {
            for (int i = 0; i < _outbound.Length; i++)
            {
                var (outbound, inbound) = (_outbound[i], _inbound[i]);
                _threads.Add(new Thread(() => Pump(outbound, inbound, "either", both: true)) { IsBackground = true, Name = $"router: lane {i}" });
            }
        }
        else if (_settings.Threads == 1)
        {
            _threads.Add(new Thread(() => Pump(_outbound[0], _inbound[0], "either", both: true)) { IsBackground = true, Name = "router" });
        }
        else
        {
            _threads.Add(new Thread(() => Pump(_outbound[0], _inbound[0], "private")) { IsBackground = true, Name = "router: private" });
            _threads.Add(new Thread(() => Pump(_inbound[0], _outbound[0], "public")) { IsBackground = true, Name = "router: public" });
        }
        _threads.ForEach(t => t.Start());
    }

    /// <summary>Handles what has arrived on one side, on the calling thread (tests and the warm-up drive lanes this way).</summary>
    internal bool RunOnce(bool fromInside, int timeoutMilliseconds)
    {
        var lane = fromInside ? _outbound[0] : _inbound[0];
        return lane.WaitReadable(timeoutMilliseconds) && lane.TryRun();
    }

    /// <summary>
    /// One interface's thread. It sleeps in poll() until its side has traffic, then works both lanes without sleeping
    /// while either has packets (and for <see cref="RouterSettings.SpinTime"/> after, when set): the answer to a packet
    /// just written is often queued on the other interface by the time write() returns (the kernel handles a TUN write
    /// synchronously), and taking it at once spares the other thread's wake-up, ~0.1 ms on a virtual machine. Each
    /// lane is run by one thread at a time; a thread finding the other's lane busy leaves it.
    /// </summary>
    // Fully optimised from the start: a tier-0 loop is replaced on the stack (OSR) after enough iterations, and that
    // compile ran on this thread in the middle of the first packets (milliseconds of added latency).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Pump(RouterLane own, RouterLane other, string side, bool both = false)
    {
        long lastLogged = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (!both && Volatile.Read(ref _spinning) != 0)
                {
                    // The other thread is polling both interfaces: stay out of its way (and out of poll(), which would
                    // wake this thread for packets it is about to take) until it stops.
                    _spinEnded.Wait(200);
                    continue;
                }
                if (!(both ? own.WaitEitherReadable(other, 200) : own.WaitReadable(200))) continue;
                // A burst ends when a read finds the queue empty, so this side needs no second look unless the other
                // side had packets: writing those on may have queued an answer here (a SYN-ACK's ACK, say).
                do own.TryRun();
                while (other.TryRun());
                if (_spinTicks > 0)
                {
                    // A thread of its own queue pair spins alone; of the two threads of one pair, one at a time.
                    if (both) SpinOn(own, other);
                    else if (Interlocked.CompareExchange(ref _spinning, 1, 0) == 0) Spin(own, other);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Packet bytes never throw; what lands here is the system (an interface gone, a store shut down). Keep
                // serving, log at most once a second, and do not spin on a persistent failure.
                Counters.Drop(DropReasons.WriteFailed);
                if (Environment.TickCount64 - lastLogged > 1000)
                {
                    lastLogged = Environment.TickCount64;
                    _logger.LogError(e, "Routing from the {Side} interface failed; continuing", side);
                }
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>
    /// Keeps working both lanes for <see cref="RouterSettings.SpinTime"/> after the last packet, yielding the CPU
    /// between looks so the hosts' own processes still run; one thread at a time spins, the other sleeps.
    /// </summary>
    private void Spin(RouterLane own, RouterLane other)
    {
        _spinEnded.Reset();
        try
        {
            SpinOn(own, other);
        }
        finally
        {
            Volatile.Write(ref _spinning, 0);
            _spinEnded.Set();
        }
    }

    private void SpinOn(RouterLane own, RouterLane other)
    {
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        bool found = false;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until && !_stop.IsCancellationRequested)
        {
            // On ports whose looks are free (AF_XDP rings) yield only after a look that found nothing: while packets
            // keep coming, a yield per burst is a system call and a pass through the scheduler for nothing (+20 %
            // small packets measured). On TUNs, where each look is a read(), a yield per burst measured better.
            if (_yieldEveryLook || !found) Thread.Yield();
            found = own.TryRun() | other.TryRun();
            if (found) until = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        }
    }

    /// <summary>Stops every thread. Calling it again does nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stop.Cancel();
        _threads.ForEach(t => t.Join());
        _stop.Dispose();
        _spinEnded.Dispose();
    }
}
