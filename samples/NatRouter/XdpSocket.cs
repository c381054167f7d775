using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NatRouter;

/// <summary>
/// One AF_XDP socket bound to one receive queue of an interface, with a UMEM of its own: a region of this process's
/// memory split into fixed frames, and four rings shared with the kernel — fill (frames the kernel may receive into),
/// receive (frames it filled), transmit (frames to send) and completion (sent frames it gives back). The first half of
/// the frames receive, the second half transmit. Receiving needs no system call at all; sending needs one kick (sendto)
/// per batch. One thread receives; queueing frames to send is serialised by the caller (<see cref="XdpPort"/>), a kick
/// may come from any thread.
/// </summary>
internal sealed unsafe partial class XdpSocket : IDisposable
{
    /// <summary>Bytes per UMEM frame (one page): a received frame leaves the kernel's 256 bytes of headroom in front.</summary>
    public const int FrameSize = 4096;
    /// <summary>The largest frame that fits (FrameSize less XDP_PACKET_HEADROOM).</summary>
    public const int MaxFrame = FrameSize - 256;
    private const int RingSize = 2048;
    private const int FrameCount = 2 * RingSize;

    private const int AddressFamilyXdp = 44, SocketRaw = 3, SolXdp = 283;
    private const int MmapOffsets = 1, RxRing = 2, TxRing = 3, UmemRegister = 4, FillRing = 5, CompletionRing = 6, StatisticsOption = 7, Options = 8;
    private const long RxRingPage = 0, TxRingPage = 0x80000000, FillRingPage = 0x100000000, CompletionRingPage = 0x180000000;
    private const int ProtectReadWrite = 3, MapShared = 0x01, MapPrivate = 0x02, MapAnonymous = 0x20, MapPopulate = 0x8000;
    private const int DontWait = 0x40; // MSG_DONTWAIT
    private const short PollIn = 0x0001;
    private const int WouldBlock = 11, Busy = 16, NoBuffers = 105, Interrupted = 4, NetworkDown = 100, NoDevice = 6;

    private int _fd;
    private readonly byte* _umem;
    private Ring _fill, _completion, _receive, _transmit;
    private readonly ulong[] _freeTransmitFrames = new ulong[RingSize];
    private int _freeCount;

    /// <summary>A ring's pointers into the shared mapping, and its size.</summary>
    private struct Ring
    {
        public uint* Producer;
        public uint* Consumer;
        public byte* Descriptors;
        public byte* Mapping;
        public nuint MappingLength;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RingOffsets { public ulong Producer, Consumer, Descriptors, Flags; }

    [StructLayout(LayoutKind.Sequential)]
    private struct MmapOffsetTable { public RingOffsets Receive, Transmit, Fill, Completion; }

    [StructLayout(LayoutKind.Sequential)]
    private struct UmemRegistration { public ulong Address, Length; public uint ChunkSize, Headroom, Flags, TxMetadataLength; }

    [StructLayout(LayoutKind.Sequential)]
    private struct SocketAddressXdp { public ushort Family, Flags; public uint InterfaceIndex, QueueId, SharedUmemFd; }

    [StructLayout(LayoutKind.Sequential)]
    private struct Descriptor { public ulong Address; public uint Length, Options; }

    /// <summary>What the kernel counted on the socket (struct xdp_statistics).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Statistics
    {
        /// <summary>Frames dropped for want of a buffer (in copy mode: the fill ring was empty) or too large for a UMEM frame.</summary>
        public ulong ReceiveDropped;
        public ulong ReceiveInvalidDescriptors, TransmitInvalidDescriptors;
        /// <summary>Frames dropped because the receive ring was full.</summary>
        public ulong ReceiveRingFull;
        public ulong FillRingEmpty, TransmitRingEmpty;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor { public int Fd; public short Events, ReturnedEvents; }

    /// <summary>
    /// Binds the packet path's system calls now (sendto and poll on a descriptor that cannot exist fail at once): the
    /// runtime looks a native function up at its first call, and under the first packet that took ~5 ms.
    /// </summary>
    static XdpSocket()
    {
        SendTo(-1, null, 0, DontWait, null, 0);
        var none = new PollDescriptor { Fd = -1 };
        Poll(&none, 1, 0);
    }

    /// <summary>
    /// Opens a socket on queue <paramref name="queue"/> of interface <paramref name="ifindex"/> in the calling thread's
    /// network namespace; the kernel chooses zero-copy where the driver offers it, else copy mode.
    /// </summary>
    /// <exception cref="Win32Exception">A step failed; the message names it.</exception>
    public XdpSocket(int ifindex, int queue, string name)
    {
        _fd = Socket(AddressFamilyXdp, SocketRaw | 0x80000 /* SOCK_CLOEXEC */, 0);
        if (_fd < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), "opening an AF_XDP socket failed (is this root, on Linux 5.4 or later?)");
        try
        {
            _umem = (byte*)Map(null, (nuint)FrameCount * FrameSize, ProtectReadWrite, MapPrivate | MapAnonymous | MapPopulate, -1, 0);
            if (_umem == (byte*)-1) throw new Win32Exception(Marshal.GetLastPInvokeError(), "allocating the UMEM failed");
            var registration = new UmemRegistration { Address = (ulong)_umem, Length = (ulong)FrameCount * FrameSize, ChunkSize = FrameSize };
            SetOption(UmemRegister, &registration, sizeof(UmemRegistration), "registering the UMEM");
            int size = RingSize;
            SetOption(FillRing, &size, sizeof(int), "sizing the fill ring");
            SetOption(CompletionRing, &size, sizeof(int), "sizing the completion ring");
            SetOption(RxRing, &size, sizeof(int), "sizing the receive ring");
            SetOption(TxRing, &size, sizeof(int), "sizing the transmit ring");
            MmapOffsetTable offsets;
            int length = sizeof(MmapOffsetTable);
            if (GetSocketOption(_fd, SolXdp, MmapOffsets, &offsets, &length) < 0)
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "reading the rings' offsets failed");
            _fill = MapRing(offsets.Fill, FillRingPage, sizeof(ulong), "fill");
            _completion = MapRing(offsets.Completion, CompletionRingPage, sizeof(ulong), "completion");
            _receive = MapRing(offsets.Receive, RxRingPage, sizeof(Descriptor), "receive");
            _transmit = MapRing(offsets.Transmit, TxRingPage, sizeof(Descriptor), "transmit");

            // The first half of the frames wait in the fill ring for the kernel to receive into; the rest wait to be sent.
            for (uint i = 0; i < RingSize; i++) ((ulong*)_fill.Descriptors)[i] = (ulong)i * FrameSize;
            Volatile.Write(ref *_fill.Producer, RingSize);
            for (int i = 0; i < RingSize; i++) _freeTransmitFrames[i] = (ulong)(RingSize + i) * FrameSize;
            _freeCount = RingSize;

            var address = new SocketAddressXdp { Family = AddressFamilyXdp, InterfaceIndex = (uint)ifindex, QueueId = (uint)queue };
            if (Bind(_fd, &address, sizeof(SocketAddressXdp)) < 0)
                throw new Win32Exception(Marshal.GetLastPInvokeError(), $"binding the AF_XDP socket to {name} queue {queue} failed");
            uint options = 0;
            int optionsLength = sizeof(uint);
            ZeroCopy = GetSocketOption(_fd, SolXdp, Options, &options, &optionsLength) == 0 && (options & 1) != 0;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Rings of nothing, producer and consumer both zero, for <see cref="Unopened"/>.</summary>
    private static readonly uint* EmptyRing = (uint*)NativeMemory.AllocZeroed(64);

    private XdpSocket()
    {
        _fd = -1;
        _fill = _completion = _receive = _transmit = new Ring { Producer = EmptyRing, Consumer = EmptyRing + 1, Descriptors = (byte*)(EmptyRing + 2) };
    }

    /// <summary>
    /// A socket that is not open: nothing is ever received, a kick fails at once, a poll waits for nothing. Only for
    /// running the packet path once before the first frame (see <see cref="XdpPort"/>); never queue a frame on it.
    /// </summary>
    public static XdpSocket Unopened() => new();

    /// <summary>The socket's descriptor (for the XSKMAP and for poll).</summary>
    public int Fd => _fd;

    /// <summary>True when the driver moves frames in and out of the UMEM itself (XDP_OPTIONS_ZEROCOPY); false in copy mode.</summary>
    public bool ZeroCopy { get; }

    /// <summary>
    /// Takes the oldest received frame: <paramref name="frame"/> points into the UMEM until <see cref="Release"/> gives
    /// it back. False when nothing was received.
    /// </summary>
    public bool TryReceive(out ReadOnlySpan<byte> frame, out ulong address)
    {
        uint consumer = *_receive.Consumer;
        if (Volatile.Read(ref *_receive.Producer) == consumer)
        {
            frame = default;
            address = 0;
            return false;
        }
        var descriptor = ((Descriptor*)_receive.Descriptors)[consumer & (RingSize - 1)];
        Volatile.Write(ref *_receive.Consumer, consumer + 1);
        address = descriptor.Address;
        frame = new ReadOnlySpan<byte>(_umem + descriptor.Address, (int)Math.Min(descriptor.Length, (uint)MaxFrame));
        return true;
    }

    /// <summary>Gives a received frame back to the kernel to receive into again.</summary>
    public void Release(ulong address)
    {
        // The fill ring holds every receive frame not out in the receive ring or in the router's hands, so it has room.
        uint producer = *_fill.Producer;
        ((ulong*)_fill.Descriptors)[producer & (RingSize - 1)] = address & ~(ulong)(FrameSize - 1);
        Volatile.Write(ref *_fill.Producer, producer + 1);
    }

    /// <summary>
    /// Queues one frame for sending; it goes out at the next <see cref="Kick"/>. False when every transmit frame is in
    /// flight even after a kick (the kernel has not given enough back yet).
    /// </summary>
    public bool TryQueue(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        if (header.Length + payload.Length > FrameSize) return false;
        if (_freeCount == 0 && ReclaimSent() == 0)
        {
            // Every frame is queued or in flight: send what is queued, and take back what that completed.
            Kick();
            if (ReclaimSent() == 0) return false;
        }
        uint producer = *_transmit.Producer;
        ulong address = _freeTransmitFrames[--_freeCount];
        var frame = new Span<byte>(_umem + address, header.Length + payload.Length);
        header.CopyTo(frame);
        payload.CopyTo(frame[header.Length..]);
        ((Descriptor*)_transmit.Descriptors)[producer & (RingSize - 1)] = new Descriptor { Address = address, Length = (uint)frame.Length };
        Volatile.Write(ref *_transmit.Producer, producer + 1);
        return true;
    }

    /// <summary>
    /// Tells the kernel to send what is queued. In copy mode it sends a few dozen frames per call and says EAGAIN when
    /// more wait, so this calls again until the ring is empty or the device is busy. Returns false when the kernel
    /// could not take them now — the device busy, or the link down (ENETDOWN, ENXIO) — and they wait in the ring for a
    /// later kick. Safe beside a thread queueing (the kernel consumes the ring
    /// while we fill it); it never touches the completion ring, which has room for every transmit frame.
    /// </summary>
    public bool Kick()
    {
        for (int round = 0; round < RingSize / 32; round++)
        {
            if (SendTo(_fd, null, 0, DontWait, null, 0) >= 0) return true;
            int error = Marshal.GetLastPInvokeError();
            if (error is WouldBlock or Interrupted) continue; // a batch went out and more wait
            if (error is Busy or NoBuffers or NetworkDown or NoDevice) return false;
            throw new Win32Exception(error, "sending on the AF_XDP socket failed");
        }
        return false;
    }

    /// <summary>Takes sent frames back from the completion ring; how many.</summary>
    private int ReclaimSent()
    {
        uint consumer = *_completion.Consumer;
        uint producer = Volatile.Read(ref *_completion.Producer);
        int count = (int)(producer - consumer);
        for (int i = 0; i < count; i++) _freeTransmitFrames[_freeCount++] = ((ulong*)_completion.Descriptors)[(consumer + (uint)i) & (RingSize - 1)];
        if (count > 0) Volatile.Write(ref *_completion.Consumer, producer);
        return count;
    }

    /// <summary>What the kernel has counted on this socket so far (zeros when it cannot say).</summary>
    public Statistics ReadStatistics()
    {
        Statistics statistics = default;
        int length = sizeof(Statistics);
        if (_fd < 0 || GetSocketOption(_fd, SolXdp, StatisticsOption, &statistics, &length) < 0) return default;
        return statistics;
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for a received frame on this socket or on <paramref name="other"/>.</summary>
    public bool WaitReadable(XdpSocket? other, int timeoutMilliseconds)
    {
        var descriptors = stackalloc PollDescriptor[2];
        descriptors[0] = new PollDescriptor { Fd = _fd, Events = PollIn };
        if (other is not null) descriptors[1] = new PollDescriptor { Fd = other._fd, Events = PollIn };
        return Poll(descriptors, other is null ? 1u : 2u, timeoutMilliseconds) > 0;
    }

    private void SetOption(int option, void* value, int length, string what)
    {
        if (SetSocketOption(_fd, SolXdp, option, value, length) < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), what + " failed");
    }

    private Ring MapRing(RingOffsets offsets, long page, int descriptorSize, string name)
    {
        nuint length = (nuint)(offsets.Descriptors + (ulong)(RingSize * descriptorSize));
        var mapping = (byte*)Map(null, length, ProtectReadWrite, MapShared | MapPopulate, _fd, page);
        if (mapping == (byte*)-1) throw new Win32Exception(Marshal.GetLastPInvokeError(), $"mapping the {name} ring failed");
        return new Ring
        {
            Producer = (uint*)(mapping + offsets.Producer),
            Consumer = (uint*)(mapping + offsets.Consumer),
            Descriptors = mapping + offsets.Descriptors,
            Mapping = mapping,
            MappingLength = length,
        };
    }

    /// <summary>Closes the socket and unmaps its rings and UMEM.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        foreach (var ring in new[] { _fill, _completion, _receive, _transmit })
            if (ring.Mapping is not null) Unmap(ring.Mapping, ring.MappingLength);
        Close(fd);
        if (_umem is not null && _umem != (byte*)-1) Unmap(_umem, (nuint)FrameCount * FrameSize);
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSocketOption(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSocketOption(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, SocketAddressXdp* address, int length);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static partial nint SendTo(int fd, void* buffer, nuint length, int flags, void* address, int addressLength);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollDescriptor* descriptors, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Map(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Unmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
