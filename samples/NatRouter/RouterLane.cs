using System.Buffers.Binary;
using NatFramework;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// One direction of the router, run by one thread: reads a burst of frames from one interface without a system call
/// per empty read, plans them (malformed → counted drop; fragments → reassembly; DF and too big → ICMP), translates the
/// rest in one batch call (the store hashes ahead and prefetches; a remote store answers the misses in one round trip),
/// opens connections for new flows, and writes the results to the other interface, cut to the MTU where needed.
/// Every buffer is allocated here once: an established flow's packet allocates nothing.
/// </summary>
internal sealed class RouterLane
{
    /// <summary>At most this many frames are read before they are translated together.</summary>
    internal const int MaxBurst = 32;
    private const int MaxPacket = 65535;
    private const int SlotSize = VirtioNetHeader.Length + MaxPacket;
    private const int TcpChecksumOffset = 16, UdpChecksumOffset = 6;

    private readonly PacketRouter _router;
    private readonly INatTranslator _nat;
    private readonly ISyncNatTranslator? _sync;
    private readonly RouterSettings _settings;
    private readonly RouterCounters _counters;
    private readonly IPacketPort _from, _to;
    private readonly bool _fromInside;
    private readonly int _header;

    private readonly byte[] _slots = GC.AllocateUninitializedArray<byte>(MaxBurst * SlotSize);
    private readonly int[] _frameLengths = new int[MaxBurst];
    private readonly Range[] _batch = new Range[MaxBurst];
    private readonly Pending[] _pending = new Pending[MaxBurst];
    private readonly NatTranslateResult[] _results = new NatTranslateResult[MaxBurst];
    private readonly byte[] _whole = new byte[SlotSize];
    private readonly byte[] _fragmentBytes;
    private readonly Range[] _fragmentRanges;
    private readonly byte[] _fragmentFrame;
    private readonly Ipv4Reassembler _reassembler = new();
    // 1 while a thread runs this lane: normally its own thread, sometimes the other lane's (see PacketRouter.Pump).
    private int _running;

    /// <summary>A packet waiting for its translation: where its frame is, and what an unfinished checksum was before.</summary>
    private struct Pending
    {
        public byte[] Buffer;
        public int FrameStart;
        public int Length;
        public bool PartialChecksum;
        public ushort SumBefore;
        public ulong AddressesBefore;
    }

    public RouterLane(PacketRouter router, INatTranslator nat, RouterSettings settings, IPacketPort from, IPacketPort to, bool fromInside)
    {
        _router = router;
        _nat = nat;
        _sync = nat as ISyncNatTranslator;
        _settings = settings;
        _counters = router.Counters;
        _from = from;
        _to = to;
        _fromInside = fromInside;
        _header = from.Offload ? VirtioNetHeader.Length : 0;
        // Fragments carry at most (MTU - 60) & ~7 bytes of data each (60 = the largest header, options copied).
        int perFragment = Math.Max(8, (settings.Mtu - 60) & ~7);
        _fragmentRanges = new Range[MaxPacket / perFragment + 2];
        _fragmentBytes = new byte[MaxPacket + _fragmentRanges.Length * 60];
        _fragmentFrame = new byte[VirtioNetHeader.Length + settings.Mtu];
        // Touch every page of the burst buffer now rather than under the first packets (see ConnectionTable).
        _slots.AsSpan().Clear();
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for traffic to arrive on this lane's interface.</summary>
    public bool WaitReadable(int timeoutMilliseconds) => _from.WaitReadable(timeoutMilliseconds);

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for traffic on this lane's or <paramref name="other"/>'s interface.</summary>
    public bool WaitEitherReadable(RouterLane other, int timeoutMilliseconds) => _from.WaitEitherReadable(other._from, timeoutMilliseconds);

    /// <summary>
    /// Handles one burst of what is queued, without waiting; false when nothing was queued or another thread is
    /// running this lane right now (it will see the same packets).
    /// </summary>
    public bool TryRun()
    {
        // A plain flag, not a lock: a thread that finds the lane taken must leave at once (a Lock's TryEnter may spin
        // and yield the CPU first, which perf showed as 7 % of the router's time in sched_yield).
        if (Interlocked.CompareExchange(ref _running, 1, 0) != 0) return false;
        try
        {
            int count = ReadBurst();
            if (count > 0) Handle(count);
            return count > 0;
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR under the first packets (see PacketRouter.Pump)
    private int ReadBurst()
    {
        int count = 0;
        while (count < MaxBurst)
        {
            int length = _from.Read(_slots.AsSpan(count * SlotSize, SlotSize));
            if (length <= 0) break;
            _frameLengths[count++] = length;
        }
        return count;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)] // no OSR under the first packets (see PacketRouter.Pump)
    private void Handle(int count)
    {
        int pending = 0;
        for (int i = 0; i < count; i++)
        {
            _counters.Received(_fromInside);
            int start = i * SlotSize;
            int length = _frameLengths[i];
            if (length < _header)
            {
                _counters.Drop(DropReasons.BadOffloadHeader);
                continue;
            }
            var packet = _slots.AsSpan(start + _header, length - _header);
            var error = Ipv4Packet.TryParse(packet, out var ip);
            if (error != PacketError.None)
            {
                _counters.Drop(error);
                continue;
            }
            if (ip.IsFragment)
            {
                Reassemble(ip);
                continue;
            }
            if (!Prepare(_slots, start, ip, out var waiting)) continue;
            _pending[pending] = waiting;
            _batch[pending++] = new Range(start + _header, start + _header + waiting.Length);
        }
        if (pending == 0) return;

        if (_sync is not null) _sync.TranslateBatch(_slots, _batch.AsSpan(0, pending), _results.AsSpan(0, pending));
        else Wait(_nat.TranslateBatchAsync(_slots, _batch.AsMemory(0, pending), _results.AsMemory(0, pending)));
        for (int b = 0; b < pending; b++) Complete(_pending[b], _results[b]);
    }

    /// <summary>
    /// Checks a whole packet before translation: too big with DF set is answered here; an unfinished checksum is noted
    /// (or finished now when the header names an odd place for it). False when the packet goes no further.
    /// </summary>
    private bool Prepare(byte[] buffer, int frameStart, in Ipv4Packet ip, out Pending waiting)
    {
        waiting = new Pending { Buffer = buffer, FrameStart = frameStart, Length = ip.TotalLength };
        var packet = ip.Bytes;
        bool train = false;
        if (_header > 0)
        {
            var offload = new VirtioNetHeader(buffer.AsSpan(frameStart));
            train = offload.IsSegmentTrain;
            if (offload.NeedsChecksum)
            {
                int start = offload.ChecksumStart, offset = offload.ChecksumOffset;
                if (!PartialChecksum.IsValidPosition(ip.TotalLength, start, offset))
                {
                    _counters.Drop(DropReasons.BadOffloadHeader);
                    return false;
                }
                bool usual = start == ip.HeaderLength
                    && offset == (ip.Protocol == IpProtocol.Tcp ? TcpChecksumOffset : ip.Protocol == IpProtocol.Udp ? UdpChecksumOffset : -1);
                if (usual)
                {
                    waiting.PartialChecksum = true;
                    waiting.SumBefore = PartialChecksum.Read(packet, start, offset);
                    waiting.AddressesBefore = PartialChecksum.ReadAddresses(packet);
                }
                else if (!train)
                {
                    PartialChecksum.Finish(packet[..ip.TotalLength], start, offset, ip.Protocol == IpProtocol.Udp);
                    buffer[frameStart] = 0;
                }
                else
                {
                    _counters.Drop(DropReasons.BadOffloadHeader);
                    return false;
                }
            }
        }
        if (!train && ip.TotalLength > _settings.Mtu && ip.DontFragment)
        {
            // Answered from here, quoting the packet as its sender sent it (RFC 1191 path-MTU discovery).
            _counters.Drop(DropReasons.TooBig);
            _router.AnswerWithError(packet[..ip.TotalLength], _from, _header, IcmpType.DestinationUnreachable, 4, (uint)_settings.Mtu, towardsInside: _fromInside);
            return false;
        }
        return true;
    }

    private void Reassemble(in Ipv4Packet fragment)
    {
        var reassembled = _reassembler.Add(fragment, _whole.AsSpan(VirtioNetHeader.Length));
        if (reassembled.Status == ReassemblyStatus.Dropped) _counters.Drop(reassembled.Error);
        if (reassembled.Status != ReassemblyStatus.Complete) return;

        // The whole datagram sits after room for a plain offload header (fragments never carry an unfinished checksum).
        int frameStart = VirtioNetHeader.Length - _header;
        if (_header > 0) VirtioNetHeader.WritePlain(_whole.AsSpan(frameStart));
        var packet = _whole.AsSpan(VirtioNetHeader.Length, reassembled.Length);
        if (Ipv4Packet.TryParse(packet, out var ip) != PacketError.None || !Prepare(_whole, frameStart, ip, out var waiting)) return;
        Complete(waiting, TranslateOne(waiting));
    }

    /// <summary>Acts on a translation: sends it on, opens a connection for a new flow first, or answers and counts.</summary>
    private void Complete(in Pending packet, NatTranslateResult result)
    {
        if (result.Status == NatTranslateStatus.Untranslated && result.Reason == UntranslatedReason.NoConnection)
        {
            if (!TryOpen(packet)) return;
            result = TranslateOne(packet);
        }
        switch (result.Status)
        {
            case NatTranslateStatus.Translated:
                _counters.TranslatedOne();
                if (packet.PartialChecksum)
                {
                    var bytes = packet.Buffer.AsSpan(packet.FrameStart + _header, packet.Length);
                    int start = BinaryPrimitives.ReadUInt16LittleEndian(packet.Buffer.AsSpan(packet.FrameStart + 6));
                    int offset = BinaryPrimitives.ReadUInt16LittleEndian(packet.Buffer.AsSpan(packet.FrameStart + 8));
                    PartialChecksum.Readdress(bytes, start, offset, packet.SumBefore, packet.AddressesBefore);
                }
                Send(packet);
                break;
            case NatTranslateStatus.TtlExceeded:
                _counters.Drop(DropReasons.TtlExceeded);
                _router.AnswerWithError(packet.Buffer.AsSpan(packet.FrameStart + _header, packet.Length), _from, _header, IcmpType.TimeExceeded, 0, 0, towardsInside: _fromInside);
                break;
            case NatTranslateStatus.Dropped:
                _counters.Drop(result.Error);
                break;
            case NatTranslateStatus.StoreUnavailable:
                _counters.StoreError();
                _counters.Drop(DropReasons.StoreUnavailable);
                break;
            default:
                _counters.Drop(result.Reason);
                break;
        }
    }

    /// <summary>
    /// A packet of an unknown flow: from the private network it opens a NAT connection; from outside only a port
    /// forward rule opens one (a redirect; the inside host sees the router's inside address as the peer's).
    /// </summary>
    private bool TryOpen(in Pending packet)
    {
        var memory = packet.Buffer.AsMemory(packet.FrameStart + _header, packet.Length);
        Ipv4Packet.TryParse(memory.Span, out var ip);
        NatAddResult added;
        if (_fromInside)
        {
            if (!_settings.PrivateNetwork.Contains(ip.Source))
            {
                _counters.Drop(DropReasons.NotFromPrivateNetwork);
                return false;
            }
            added = _sync is not null ? _sync.AddNat(memory.Span, _settings.PublicAddress) : Wait(_nat.AddNatAsync(memory, _settings.PublicAddress));
        }
        else if (FindForward(ip) is { } rule)
        {
            added = _sync is not null
                ? _sync.AddRedirect(memory.Span, _settings.PrivateAddress, rule.Target, rule.TargetPort)
                : Wait(_nat.AddRedirectAsync(memory, _settings.PrivateAddress, rule.Target, rule.TargetPort));
        }
        else
        {
            _counters.Drop(UntranslatedReason.NoConnection);
            return false;
        }
        switch (added.Status)
        {
            case NatAddStatus.Ok:
                _counters.Added();
                return true;
            case NatAddStatus.Overlap:
                return true; // another thread or router mapped this flow meanwhile: translate through its mapping
            case NatAddStatus.TableFull:
                _counters.Drop(DropReasons.TableFull);
                return false;
            case NatAddStatus.StoreUnavailable:
                _counters.StoreError();
                _counters.Drop(DropReasons.StoreUnavailable);
                return false;
            default:
                _counters.Drop(DropReasons.CannotNat);
                return false;
        }
    }

    private ForwardRule? FindForward(in Ipv4Packet ip)
    {
        if (_settings.Forwards is not { Count: > 0 } forwards) return null;
        if (ip.Destination != _settings.PublicAddress || !FlowKey.TryRead(ip, out var key)) return null;
        foreach (var rule in forwards)
            if (rule.Protocol == key.Protocol && rule.PublicPort == key.DestinationPort) return rule;
        return null;
    }

    private NatTranslateResult TranslateOne(in Pending packet)
        => _sync is not null
            ? _sync.Translate(packet.Buffer.AsSpan(packet.FrameStart + _header, packet.Length))
            : Wait(_nat.TranslateAsync(packet.Buffer.AsMemory(packet.FrameStart + _header, packet.Length)));

    /// <summary>Writes a translated packet whole (a segment train is cut by the kernel) or as fragments of the MTU.</summary>
    private void Send(in Pending packet)
    {
        var frame = packet.Buffer.AsSpan(packet.FrameStart, _header + packet.Length);
        bool train = _header > 0 && new VirtioNetHeader(frame).IsSegmentTrain;
        if (train || packet.Length <= _settings.Mtu)
        {
            Write(frame);
            return;
        }
        var bytes = frame[_header..];
        if (packet.PartialChecksum)
        {
            // Fragments are not checksummed as a whole by anyone downstream: finish the checksum before cutting.
            int start = BinaryPrimitives.ReadUInt16LittleEndian(frame[6..]), offset = BinaryPrimitives.ReadUInt16LittleEndian(frame[8..]);
            PartialChecksum.Finish(bytes, start, offset, bytes[9] == (byte)IpProtocol.Udp);
        }
        Ipv4Packet.TryParse(bytes, out var ip);
        var split = Ipv4Fragmenter.Fragment(ip, _settings.Mtu, _fragmentBytes, _fragmentRanges);
        if (split.Status != FragmentationStatus.Fragmented)
        {
            _counters.Drop(DropReasons.FragmentationFailed);
            return;
        }
        VirtioNetHeader.WritePlain(_fragmentFrame);
        for (int i = 0; i < split.FragmentCount; i++)
        {
            var fragment = _fragmentBytes.AsSpan(_fragmentRanges[i]);
            fragment.CopyTo(_fragmentFrame.AsSpan(_header));
            Write(_fragmentFrame.AsSpan(0, _header + fragment.Length));
        }
    }

    private void Write(ReadOnlySpan<byte> frame)
    {
        if (_to.Write(frame)) _counters.Sent(toInside: !_fromInside);
        else _counters.Drop(DropReasons.WriteFailed);
    }

    /// <summary>
    /// Waits for a translator call. In-process stores and cache hits complete at once (no blocking, no allocation); a
    /// remote store's round trip blocks this interface's own thread, which has nothing else to do meanwhile.
    /// </summary>
    private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask pending)
    {
        if (!pending.IsCompletedSuccessfully) pending.AsTask().GetAwaiter().GetResult();
    }
}
