using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatFramework.Stores.Lru;
using NatRouter;

namespace NatFramework.Benchmarks;

/// <summary>
/// The sample router's whole packet path — read a burst, translate it in one batch call, write each packet on, count —
/// on 1, 2 and 4 lanes (queue pairs, one thread each, as <c>NatRouter run --queues N</c> runs them), over in-memory
/// ports instead of TUN devices, so it needs no root and leaves the kernel's per-packet work out: it shows how the
/// router's own work scales with cores. Each lane's inside port replays 46-byte UDP packets of its own 1,000
/// established flows (as a multi-queue TUN hands each flow to one queue); its outside port counts what is written.
/// The same packets are split over the lanes, so the time per packet falls as the lanes run on more cores: on a machine
/// with N cores, N lanes should take 1/N of one lane's time.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class RouterLaneBenchmarks
{
    private const int Packets = 400_000;
    private const int FlowsPerLane = 1_000;
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");

    [Params(1, 2, 4)]
    public int Lanes { get; set; }

    private PacketRouter _router = null!;
    private ReplayPort[] _inside = [];
    private CountingPort[] _outside = [];
    private CountdownEvent _done = null!;

    [GlobalSetup]
    public void Setup()
    {
        var settings = new RouterSettings(Public, Ipv4Prefix.Parse("10.77.0.0/24")) { SpinTime = TimeSpan.Zero };
        var nat = LruNatTranslator.Create(new NatOptions { PublicAddress = Public, Policy = settings.Policy, UdpCapacity = 4 * FlowsPerLane * 2 });
        _done = new CountdownEvent(Lanes);
        _inside = new ReplayPort[Lanes];
        _outside = new CountingPort[Lanes];
        for (int lane = 0; lane < Lanes; lane++)
        {
            var frames = new byte[FlowsPerLane][];
            for (int flow = 0; flow < FlowsPerLane; flow++)
            {
                frames[flow] = Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0002u + (uint)lane), (ushort)(10_000 + flow),
                    new Ipv4Address(0xC6336402u + (uint)(flow % 8)), 5201, new byte[18]);
                if (!nat.AddNat(frames[flow], Public).IsOk) throw new InvalidOperationException("setup: AddNat failed");
            }
            _inside[lane] = new ReplayPort(frames);
            _outside[lane] = new CountingPort(_done);
        }
        _router = new PacketRouter(nat, settings, _inside, _outside);
        _router.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _router.Dispose();
        if (_router.Counters.DroppedTotal != 0) throw new InvalidOperationException($"packets were dropped: {_router.Counters}");
    }

    [Benchmark(OperationsPerInvoke = Packets, Description = "router packet path, 46-byte UDP, established flows, split over lanes")]
    public void Route()
    {
        _done.Reset(Lanes);
        for (int lane = 0; lane < Lanes; lane++)
        {
            _outside[lane].Expect(Packets / Lanes);
            _inside[lane].Release(Packets / Lanes);
        }
        if (!_done.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException($"the lanes did not forward their packets: {_router.Counters}");
    }

    /// <summary>An inside queue that hands out its flows' packets in turn, as many as it was released for.</summary>
    private sealed class ReplayPort(byte[][] frames) : IPacketPort
    {
        private readonly SemaphoreSlim _released = new(0);
        private long _remaining;
        private int _next;

        public bool Offload => false;

        public void Release(int packets)
        {
            Interlocked.Add(ref _remaining, packets);
            _released.Release();
        }

        public bool WaitReadable(int timeoutMilliseconds) => Volatile.Read(ref _remaining) > 0 || (_released.Wait(timeoutMilliseconds) && Volatile.Read(ref _remaining) > 0);

        // The outside queue of the pair never has anything to read: wait on this one alone.
        public bool WaitEitherReadable(IPacketPort other, int timeoutMilliseconds) => WaitReadable(timeoutMilliseconds);

        public int Read(Span<byte> frame)
        {
            // Only this lane's thread takes packets, and Release is called only once it has taken them all.
            long remaining = Volatile.Read(ref _remaining);
            if (remaining <= 0) return 0;
            Volatile.Write(ref _remaining, remaining - 1);
            var packet = frames[_next];
            _next = _next + 1 == frames.Length ? 0 : _next + 1;
            packet.CopyTo(frame);
            return packet.Length;
        }

        public bool Write(ReadOnlySpan<byte> frame) => true;
    }

    /// <summary>An outside queue that counts what the lane writes and says when the invocation's packets are through.</summary>
    private sealed class CountingPort(CountdownEvent done) : IPacketPort
    {
        private long _written, _expected;

        public bool Offload => false;

        public void Expect(int packets)
        {
            Volatile.Write(ref _written, 0);
            Volatile.Write(ref _expected, packets);
        }

        public bool WaitReadable(int timeoutMilliseconds)
        {
            Thread.Sleep(timeoutMilliseconds);
            return false;
        }

        public int Read(Span<byte> frame) => 0;

        public bool Write(ReadOnlySpan<byte> frame)
        {
            // Written by this lane's thread only; Expect is called only once the last invocation's packets are through.
            long written = _written + 1;
            Volatile.Write(ref _written, written);
            if (written == _expected) done.Signal();
            return true;
        }
    }
}
