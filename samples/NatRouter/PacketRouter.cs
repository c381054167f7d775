using NatFramework;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// Moves packets between the private and the public TUN interface through a NAT translator: from the inside, a packet
/// of an unknown flow from the private network opens a connection (AddNat) and is translated; from the outside, only
/// packets of existing connections get in. Fragments are reassembled before lookup and the result is fragmented to the
/// MTU; the router answers TTL ≤ 1 with ICMP Time Exceeded and DF-and-too-big with ICMP Fragmentation Needed
/// (RFC 1812 §4.3.2.8 rate limit: at most one error per interval). Each interface is read on its own thread.
/// </summary>
public sealed class PacketRouter : IDisposable
{
    private const int BufferSize = 65535;
    private static readonly TimeSpan ErrorInterval = TimeSpan.FromMilliseconds(10);
    private readonly INatTranslator _nat;
    private readonly RouterSettings _settings;
    private readonly TunDevice _private;
    private readonly TunDevice _public;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = new();
    private long _lastErrorAt;

    /// <summary>Creates a router; call <see cref="Start"/>.</summary>
    public PacketRouter(INatTranslator nat, RouterSettings settings, TunDevice privateSide, TunDevice publicSide)
    {
        _nat = nat;
        _settings = settings;
        _private = privateSide;
        _public = publicSide;
    }

    /// <summary>What the router has done so far.</summary>
    public RouterCounters Counters { get; } = new();

    /// <summary>Starts one reading thread per interface.</summary>
    public void Start()
    {
        _threads.Add(new Thread(() => Pump(_private, _public, fromInside: true)) { IsBackground = true, Name = "router: private" });
        _threads.Add(new Thread(() => Pump(_public, _private, fromInside: false)) { IsBackground = true, Name = "router: public" });
        _threads.ForEach(t => t.Start());
    }

    private void Pump(TunDevice from, TunDevice to, bool fromInside)
    {
        var buffer = new byte[BufferSize];
        var whole = new byte[BufferSize];
        var output = new byte[BufferSize + 4096];
        var fragments = new Range[64];
        var reassembler = new Ipv4Reassembler();
        while (!_stop.IsCancellationRequested)
        {
            int length = from.Read(buffer, 200);
            if (length == 0) continue;
            Counters.Received(fromInside);
            try
            {
                Forward(buffer.AsMemory(0, length), whole, output, fragments, reassembler, from, to, fromInside);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
            {
                Counters.Drop("write-failed");
            }
        }
    }

    private void Forward(Memory<byte> packet, byte[] whole, byte[] output, Range[] fragments, Ipv4Reassembler reassembler,
        TunDevice from, TunDevice to, bool fromInside)
    {
        var error = Ipv4Packet.TryParse(packet.Span, out var ip);
        if (error != PacketError.None)
        {
            Counters.Drop(error);
            return;
        }
        var reassembled = reassembler.Add(ip, whole);
        switch (reassembled.Status)
        {
            case ReassemblyStatus.Incomplete:
                return;
            case ReassemblyStatus.Dropped:
                Counters.Drop(reassembled.Error);
                return;
            case ReassemblyStatus.Complete:
                packet = whole.AsMemory(0, reassembled.Length);
                break;
        }

        // Too big with DF set: answer from here, quoting the packet as its sender sent it (RFC 1191 path-MTU discovery).
        Ipv4Packet.TryParse(packet.Span, out ip);
        if (packet.Length > _settings.Mtu && ip.DontFragment)
        {
            Counters.Drop("too-big");
            AnswerWithError(packet.Span, from, IcmpType.DestinationUnreachable, 4, (uint)_settings.Mtu, fromInside);
            return;
        }

        var result = Wait(_nat.TranslateAsync(packet));
        if (result.Status == NatTranslateStatus.Untranslated && result.Reason == UntranslatedReason.NoConnection && fromInside)
        {
            Ipv4Packet.TryParse(packet.Span, out ip);
            if (_settings.PrivateNetwork.Contains(ip.Source))
            {
                var added = Wait(_nat.AddNatAsync(packet, _settings.PublicAddress));
                if (added.IsOk) Counters.Added();
                result = Wait(_nat.TranslateAsync(packet));
            }
        }
        else if (result.Status == NatTranslateStatus.Untranslated && result.Reason == UntranslatedReason.NoConnection && !fromInside
            && FindForward(packet.Span) is { } rule)
        {
            // A port forward: the inside host sees the connection coming from the router's inside address.
            var added = Wait(_nat.AddRedirectAsync(packet, _settings.PrivateAddress, rule.Target, rule.TargetPort));
            if (added.IsOk) Counters.Added();
            result = Wait(_nat.TranslateAsync(packet));
        }
        switch (result.Status)
        {
            case NatTranslateStatus.Translated:
                Send(packet.Span, output, fragments, to, fromInside);
                break;
            case NatTranslateStatus.TtlExceeded:
                Counters.Drop("ttl-exceeded");
                AnswerWithError(packet.Span, from, IcmpType.TimeExceeded, 0, 0, fromInside);
                break;
            case NatTranslateStatus.Dropped:
                Counters.Drop(result.Error);
                break;
            default:
                if (result.Status == NatTranslateStatus.Untranslated) Counters.Drop(result.Reason);
                else Counters.Drop(result.Status);
                break;
        }
    }

    /// <summary>
    /// Waits for a translator call. In-process stores and cache hits complete at once (no blocking, no allocation); a
    /// remote store's round trip blocks this interface's own reading thread, which has nothing else to do meanwhile.
    /// </summary>
    private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    private ForwardRule? FindForward(Span<byte> packet)
    {
        if (_settings.Forwards is not { Count: > 0 } forwards) return null;
        Ipv4Packet.TryParse(packet, out var ip);
        if (ip.Destination != _settings.PublicAddress || !FlowKey.TryRead(ip, out var key)) return null;
        foreach (var rule in forwards)
            if (rule.Protocol == key.Protocol && rule.PublicPort == key.DestinationPort) return rule;
        return null;
    }

    private void Send(Span<byte> packet, byte[] output, Range[] fragments, TunDevice to, bool fromInside)
    {
        Ipv4Packet.TryParse(packet, out var ip);
        var split = Ipv4Fragmenter.Fragment(ip, _settings.Mtu, output, fragments);
        switch (split.Status)
        {
            case FragmentationStatus.Fits:
                to.Write(packet);
                Counters.Sent(!fromInside);
                break;
            case FragmentationStatus.Fragmented:
                for (int i = 0; i < split.FragmentCount; i++) to.Write(output.AsSpan(fragments[i]));
                Counters.Sent(!fromInside);
                break;
            default:
                Counters.Drop("fragmentation-failed");
                break;
        }
    }

    /// <summary>
    /// Sends an ICMP error about <paramref name="offending"/> back out of the interface it came in on, from the router's
    /// own address on that side; at most one per interval (RFC 1812 §4.3.2.8), never about an ICMP error (RFC 1122 §3.2.2).
    /// </summary>
    private void AnswerWithError(Span<byte> offending, TunDevice back, IcmpType type, byte code, uint restOfHeader, bool towardsInside)
    {
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastErrorAt);
        if (now - last < ErrorInterval.TotalMilliseconds || Interlocked.CompareExchange(ref _lastErrorAt, now, last) != last) return;
        Ipv4Packet.TryParse(offending, out var ip);
        if (ip.Protocol == IpProtocol.Icmp && ip.Icmp.IsError) return;
        Span<byte> error = stackalloc byte[576];
        var source = towardsInside ? _settings.PrivateAddress : _settings.PublicAddress;
        int length = Ipv4PacketBuilder.WriteIcmpError(error, type, code, source, ip.Source, offending, 8, restOfHeader);
        back.Write(error[..length]);
        Counters.Sent(towardsInside);
    }

    /// <summary>Stops both threads.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _threads.ForEach(t => t.Join());
        _stop.Dispose();
    }
}
