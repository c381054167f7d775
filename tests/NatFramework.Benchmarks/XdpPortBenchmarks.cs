using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using NatFramework.Packets;
using NatRouter;

namespace NatFramework.Benchmarks;

/// <summary>
/// The sample router's AF_XDP port on its own: a burst of 46-byte UDP packets written to the port on one end of a veth pair
/// (framed for the neighbor it learned by ARP, queued in the transmit ring), one kick, and the same packets read from
/// the port on the other end (out of the receive ring, each frame given back to the fill ring). Both ends are in a network
/// namespace of the benchmark's own, made in the setup and deleted in the cleanup. It shows what the port's path
/// allocates per packet (nothing) and what a packet costs through the port and the kernel's veth and XDP redirect.
/// Needs root (AF_XDP sockets and namespaces); without it the setup fails and says so.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class XdpPortBenchmarks
{
    private const int Burst = 32;
    private static readonly Ipv4Address Sender = Ipv4Address.Parse("10.77.0.1");
    private static readonly Ipv4Address Receiver = Ipv4Address.Parse("10.77.0.2");

    private readonly string _namespace = $"natb-{Environment.ProcessId}";
    private XdpPort? _sender, _receiver;
    private byte[] _packet = [];
    private readonly byte[] _frame = new byte[2048];

    [GlobalSetup]
    public void Setup()
    {
        if (!XdpPort.IsSupported(out string? why)) throw new InvalidOperationException($"{nameof(XdpPortBenchmarks)} cannot run: {why}");
        Ip("netns", "add", _namespace);
        try
        {
            // No IPv6 on the link: its neighbor discovery frames would be read among the packets.
            Ip("netns", "exec", _namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            Ip("-n", _namespace, "link", "add", "xa", "type", "veth", "peer", "name", "xb");
            Ip("-n", _namespace, "link", "set", "xa", "up");
            Ip("-n", _namespace, "link", "set", "xb", "up");
            _sender = XdpPort.Open("xa", Sender, netns: _namespace);
            _receiver = XdpPort.Open("xb", Receiver, netns: _namespace);
            _packet = Ipv4PacketBuilder.Udp(Sender, 40_000, Receiver, 5201, new byte[18]);
            LearnReceiver();
        }
        catch
        {
            Cleanup();
            throw;
        }
    }

    /// <summary>The first write is held while the sender asks ARP for the receiver; both ports read until it arrives.</summary>
    private void LearnReceiver()
    {
        _sender!.Write(_packet);
        _sender.Flush();
        var deadline = Stopwatch.StartNew();
        while (!IsPacket(_receiver!.Read(_frame)))
        {
            _sender.Read(_frame); // takes in the ARP reply, which releases the held packet
            if (deadline.Elapsed > TimeSpan.FromSeconds(5)) throw new TimeoutException("the sender's port did not learn the receiver's MAC address by ARP");
        }
    }

    private bool IsPacket(int length) => length == _packet.Length;

    [GlobalCleanup]
    public void Cleanup()
    {
        _sender?.Dispose();
        _receiver?.Dispose();
        Ip("netns", "delete", _namespace);
    }

    [Benchmark(OperationsPerInvoke = Burst, Description = "AF_XDP port: write, kick, read (46-byte UDP, veth)")]
    public int WriteKickRead()
    {
        for (int i = 0; i < Burst; i++)
            if (!_sender!.Write(_packet)) throw new InvalidOperationException("the transmit ring had no room");
        _sender!.Flush();
        int received = 0;
        long looks = 0;
        while (received < Burst)
        {
            if (IsPacket(_receiver!.Read(_frame))) received++;
            else if (++looks > 50_000_000) throw new TimeoutException($"{received} of {Burst} packets arrived");
        }
        // Anything the sender's end received is ARP: its port answers and learns from it while reading.
        _sender.Read(_frame);
        return received;
    }

    private static void Ip(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed: {error.Trim()}");
    }
}
