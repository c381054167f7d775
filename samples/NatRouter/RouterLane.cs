using System.Buffers.Binary;
using NatFramework;
using NatFramework.Fragmentation;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// One direction of the router, run by one thread: read → translate → write. It reads a burst of frames from one
/// interface without a system call per empty read, sets aside what the translator does not take (fragments, to be
/// reassembled; DF and too big, answered with ICMP), translates the rest in one batch call — the translator's policy
/// creates the connections of new flows in the same call — and writes each result to the other interface, cut to the MTU
/// where needed, or counts why not. Every buffer is allocated here once: an established flow's packet allocates nothing.
/// </summary>
internal sealed class RouterLane
{
    /// <summary>At most this many frames are read before they are translated together.</summary>
    internal const int MaxBurst = 32;
    private const int MaxPacket = 65535;
    private const int SlotSize = VirtioNetHeader.Length + MaxPacket;
    // Where a TCP or UDP checksum field sits from the start of its header (RFC 793, RFC 768).
    private const int TcpChecksumOffset = TcpHeader.ChecksumOffset, UdpChecksumOffset = UdpHeader.ChecksumOffset;
    // The virtio-net header's checksum position fields (see VirtioNetHeader).
    private const int ChecksumStartField = 6, ChecksumOffsetField = 8;

    private readonly BurstTranslator _translator;
    private readonly RouterSettings _settings;
    private readonly CounterCell _counters;
    private readonly IcmpErrorResponder _icmp;
    private readonly EchoResponder _echo;
    private readonly IPacketPort _from, _to;
    private readonly bool _fromInside;
    private readonly NatSide _side;
    private readonly int _header;

    private readonly byte[] _slots = GC.AllocateUninitializedArray<byte>(MaxBurst * SlotSize);
    private readonly int[] _frameLengths = new int[MaxBurst];
    private readonly Range[] _batch = new Range[MaxBurst];
    private readonly Pending[] _pending = new Pending[MaxBurst];
    private readonly NatTranslateResult[] _results = new NatTranslateResult[MaxBurst];
    private readonly byte[] _whole = new byte[SlotSize];
    private readonly Range[] _wholeRange = new Range[1];
    private readonly NatTranslateResult[] _wholeResult = new NatTranslateResult[1];
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

    public RouterLane(BurstTranslator translator, RouterSettings settings, CounterCell counters, IcmpErrorResponder icmp, IPacketPort from, IPacketPort to, bool fromInside)
    {
        _translator = translator;
        _settings = settings;
        _counters = counters;
        _icmp = icmp;
        _echo = new EchoResponder(settings, counters);
        _from = from;
        _to = to;
        _fromInside = fromInside;
        _side = fromInside ? NatSide.Inside : NatSide.Outside;
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
            if (count == 0) return false;
            Handle(count);
            // Results went out the other interface, answers (ICMP, hairpins) back out this one.
            _to.Flush();
            _from.Flush();
            return true;
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
            var facts = new HeaderFacts(packet);
            if (facts.IsFragment)
            {
                Reassemble(packet);
                continue;
            }
            if (!Prepare(_slots, start, packet, facts, out var waiting)) continue;
            _pending[pending] = waiting;
            _batch[pending++] = new Range(start + _header, start + _header + waiting.Length);
        }
        if (pending == 0) return;
        _translator.Translate(_slots, _batch, _results, pending, _side);
        for (int b = 0; b < pending; b++) Complete(_pending[b], _results[b]);
    }

    /// <summary>
    /// Checks a whole packet before translation: an echo request to the router and too big with DF set are answered here; an unfinished checksum is noted
    /// (or finished now when the header names an odd place for it). False when the packet goes no further. A packet whose
    /// header cannot be read goes to the translator as it is, which drops it with the exact reason.
    /// </summary>
    private bool Prepare(byte[] buffer, int frameStart, Span<byte> packet, in HeaderFacts facts, out Pending waiting)
    {
        waiting = new Pending { Buffer = buffer, FrameStart = frameStart, Length = facts.IsReadable ? facts.TotalLength : packet.Length };
        if (!facts.IsReadable) return true;
        // Pings of the router itself are answered here, back where they came from; they open no connection.
        if (facts.Protocol == IpProtocol.Icmp && !facts.IsFragment)
        {
            var verdict = _echo.Answer(packet[..facts.TotalLength], _fromInside);
            if (verdict == EchoResponder.Verdict.Answered)
            {
                if (_header > 0) VirtioNetHeader.WritePlain(buffer.AsSpan(frameStart));
                Emit(waiting, _from);
                _counters.IcmpSent(IcmpType.EchoReply);
            }
            if (verdict != EchoResponder.Verdict.NotForRouter) return false;
        }
        bool train = false;
        if (_header > 0)
        {
            var offload = new VirtioNetHeader(buffer.AsSpan(frameStart));
            train = offload.IsSegmentTrain;
            if (offload.NeedsChecksum)
            {
                int start = offload.ChecksumStart, offset = offload.ChecksumOffset;
                if (!PartialChecksum.IsValidPosition(facts.TotalLength, start, offset))
                {
                    _counters.Drop(DropReasons.BadOffloadHeader);
                    return false;
                }
                bool usual = start == facts.HeaderLength
                    && offset == (facts.Protocol == IpProtocol.Tcp ? TcpChecksumOffset : facts.Protocol == IpProtocol.Udp ? UdpChecksumOffset : -1);
                if (usual)
                {
                    waiting.PartialChecksum = true;
                    waiting.SumBefore = PartialChecksum.Read(packet, start, offset);
                    waiting.AddressesBefore = PartialChecksum.ReadAddresses(packet);
                }
                else if (!train)
                {
                    PartialChecksum.Finish(packet[..facts.TotalLength], start, offset, facts.Protocol == IpProtocol.Udp);
                    buffer[frameStart] = 0;
                }
                else
                {
                    _counters.Drop(DropReasons.BadOffloadHeader);
                    return false;
                }
            }
        }
        if (!train && facts.TotalLength > _settings.Mtu && facts.DontFragment)
        {
            // Answered from here, quoting the packet as its sender sent it (RFC 1191 path-MTU discovery).
            _counters.Drop(DropReasons.TooBig);
            _icmp.Answer(packet[..facts.TotalLength], _from, _header, IcmpType.DestinationUnreachable, 4, (uint)_settings.Mtu, towardsInside: _fromInside, _counters);
            return false;
        }
        return true;
    }

    private void Reassemble(Span<byte> packet)
    {
        var error = Ipv4Packet.TryParse(packet, out var fragment);
        if (error != PacketError.None)
        {
            _counters.Drop(error);
            return;
        }
        var reassembled = _reassembler.Add(fragment, _whole.AsSpan(VirtioNetHeader.Length));
        if (reassembled.Status == ReassemblyStatus.Dropped) _counters.Drop(reassembled.Error);
        if (reassembled.Status != ReassemblyStatus.Complete) return;

        // The whole datagram sits after room for a plain offload header (fragments never carry an unfinished checksum).
        int frameStart = VirtioNetHeader.Length - _header;
        if (_header > 0) VirtioNetHeader.WritePlain(_whole.AsSpan(frameStart));
        var whole = _whole.AsSpan(VirtioNetHeader.Length, reassembled.Length);
        if (!Prepare(_whole, frameStart, whole, new HeaderFacts(whole), out var waiting)) return;
        _wholeRange[0] = new Range(VirtioNetHeader.Length, VirtioNetHeader.Length + waiting.Length);
        _translator.Translate(_whole, _wholeRange, _wholeResult, 1, _side);
        Complete(waiting, _wholeResult[0]);
    }

    /// <summary>Acts on a translation: sends the packet on, answers TTL expiry, or counts why the packet went no further.</summary>
    private void Complete(in Pending packet, NatTranslateResult result)
    {
        switch (result.Status)
        {
            case NatTranslateStatus.Translated:
                if (result.Created) _counters.Added();
                _counters.TranslatedOne();
                if (packet.PartialChecksum)
                {
                    var bytes = packet.Buffer.AsSpan(packet.FrameStart + _header, packet.Length);
                    int start = BinaryPrimitives.ReadUInt16LittleEndian(packet.Buffer.AsSpan(packet.FrameStart + ChecksumStartField));
                    int offset = BinaryPrimitives.ReadUInt16LittleEndian(packet.Buffer.AsSpan(packet.FrameStart + ChecksumOffsetField));
                    PartialChecksum.Readdress(bytes, start, offset, packet.SumBefore, packet.AddressesBefore);
                }
                Send(packet);
                break;
            case NatTranslateStatus.TtlExceeded:
                _counters.Drop(DropReasons.TtlExceeded);
                _icmp.Answer(packet.Buffer.AsSpan(packet.FrameStart + _header, packet.Length), _from, _header, IcmpType.TimeExceeded, 0, 0, towardsInside: _fromInside, _counters);
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
                // A new flow from inside that could get no session (table full, quota, no port) is told so (RFC 5508
                // REQ-8: ICMP destination unreachable, communication administratively prohibited); a packet refused at
                // the outside is not answered, as a firewall would not.
                if (_fromInside && result.Reason is UntranslatedReason.TableFull or UntranslatedReason.QuotaExceeded or UntranslatedReason.NoFreePort)
                    _icmp.Answer(packet.Buffer.AsSpan(packet.FrameStart + _header, packet.Length), _from, _header, IcmpType.DestinationUnreachable,
                        AdministrativelyProhibited, 0, towardsInside: true, _counters);
                break;
        }
    }

    /// <summary>The ICMP destination unreachable code "communication administratively prohibited" (RFC 1812 §5.2.7.1).</summary>
    private const byte AdministrativelyProhibited = 13;

    /// <summary>
    /// Writes a translated packet whole (a segment train is cut by the kernel) or as fragments of the MTU, to the other
    /// interface — or, hairpinned (an inside host's packet to another inside host's public endpoint), back inside.
    /// </summary>
    private void Send(in Pending packet)
    {
        var destination = packet.Buffer.AsSpan(packet.FrameStart + _header + Ipv4Packet.DestinationOffset);
        var to = _fromInside && _settings.PrivateNetwork.Contains(new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(destination)))
            ? _from
            : _to;
        Emit(packet, to);
    }

    /// <summary>Writes a packet to <paramref name="to"/>, whole or as fragments of the MTU.</summary>
    private void Emit(in Pending packet, IPacketPort to)
    {
        var frame = packet.Buffer.AsSpan(packet.FrameStart, _header + packet.Length);
        bool train = _header > 0 && new VirtioNetHeader(frame).IsSegmentTrain;
        if (train || packet.Length <= _settings.Mtu)
        {
            Write(to, frame);
            return;
        }
        var bytes = frame[_header..];
        if (packet.PartialChecksum)
        {
            // Fragments are not checksummed as a whole by anyone downstream: finish the checksum before cutting.
            int start = BinaryPrimitives.ReadUInt16LittleEndian(frame[ChecksumStartField..]), offset = BinaryPrimitives.ReadUInt16LittleEndian(frame[ChecksumOffsetField..]);
            PartialChecksum.Finish(bytes, start, offset, bytes[Ipv4Packet.ProtocolOffset] == (byte)IpProtocol.Udp);
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
            Write(to, _fragmentFrame.AsSpan(0, _header + fragment.Length));
        }
    }

    private void Write(IPacketPort to, ReadOnlySpan<byte> frame)
    {
        if (to.Write(frame)) _counters.Sent(toInside: to == _from ? _fromInside : !_fromInside);
        else _counters.Drop(DropReasons.WriteFailed);
    }

    /// <summary>
    /// What the lane needs of a packet's IPv4 header before translation, read with the header's named offsets and no
    /// validation: the translator validates the packet (and names what is wrong with it). Unreadable when too short, not
    /// IPv4 or its lengths do not fit the frame.
    /// </summary>
    private readonly ref struct HeaderFacts
    {
        public HeaderFacts(ReadOnlySpan<byte> packet)
        {
            if (packet.Length < Ipv4Packet.MinHeaderLength || packet[0] >> 4 != 4) return;
            int headerLength = (packet[0] & 0x0F) * 4;
            int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[Ipv4Packet.TotalLengthOffset..]);
            if (headerLength < Ipv4Packet.MinHeaderLength || totalLength < headerLength || totalLength > packet.Length) return;
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(packet[Ipv4Packet.FlagsOffset..]);
            IsReadable = true;
            HeaderLength = headerLength;
            TotalLength = totalLength;
            IsFragment = (flags & (Ipv4Packet.MoreFragmentsFlag | Ipv4Packet.FragmentOffsetMask)) != 0;
            DontFragment = (flags & Ipv4Packet.DontFragmentFlag) != 0;
            Protocol = (IpProtocol)packet[Ipv4Packet.ProtocolOffset];
        }

        public bool IsReadable { get; }
        public int HeaderLength { get; }
        public int TotalLength { get; }
        public bool IsFragment { get; }
        public bool DontFragment { get; }
        public IpProtocol Protocol { get; }
    }
}
