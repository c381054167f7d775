using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NatRouter;

/// <summary>
/// A Linux TUN interface (IFF_TUN | IFF_NO_PI: raw IP packets, no header) opened through /dev/net/tun. A device made
/// here lives while the descriptor is open; a persistent one (<c>ip tuntap add</c>) outlives it, so another router can
/// attach to it later, also from inside the network namespace it was moved to (<paramref name="netns"/> of
/// <see cref="Open"/>). The descriptor is non-blocking: <see cref="Read"/> returns at once and <see cref="WaitReadable"/>
/// sleeps in poll() with a timeout, so a reading thread drains a burst without a poll per packet and still notices
/// when it should stop (closing a descriptor does not wake a blocked read).
/// <para>With <see cref="Offload"/>, every packet in either direction starts with a 10-byte <see cref="VirtioNetHeader"/>
/// and the kernel may hand over (and accept) TCP segments of up to 64 KiB that it splits at the MSS itself, with the
/// TCP/UDP checksum left for it to finish (TUNSETOFFLOAD: TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN).</para>
/// </summary>
public sealed unsafe partial class TunDevice : IPacketPort, IDisposable
{
    private const int ReadWrite = 2;               // O_RDWR
    private const int NonBlocking = 0x800;         // O_NONBLOCK
    private const int CloseOnExec = 0x80000;       // O_CLOEXEC
    private const nuint SetInterface = 0x400454ca; // TUNSETIFF
    private const nuint SetOffload = 0x400454d0;   // TUNSETOFFLOAD
    private const short Tun = 0x0001;              // IFF_TUN
    private const short NoPacketInfo = 0x1000;     // IFF_NO_PI
    private const short VnetHeader = 0x4000;       // IFF_VNET_HDR
    private const short MultiQueue = 0x0100;       // IFF_MULTI_QUEUE
    private const short Napi = 0x0010;             // IFF_NAPI
    private const uint OffloadChecksum = 0x01, OffloadTso4 = 0x02, OffloadTsoEcn = 0x08; // TUN_F_*
    private const short PollIn = 0x0001;           // POLLIN
    private const int Interrupted = 4;             // EINTR
    private const int WouldBlock = 11;             // EAGAIN
    private const int InputOutput = 5;             // EIO
    private int _fd;

    private TunDevice(int fd, string name, bool offload, bool napi = false)
    {
        _fd = fd;
        Name = name;
        Offload = offload;
        UsesNapi = napi;
    }

    /// <summary>The interface name.</summary>
    public string Name { get; }

    /// <summary>True when packets carry a <see cref="VirtioNetHeader"/> and may be up to 64 KiB TCP segments.</summary>
    public bool Offload { get; }

    /// <summary>
    /// True when the kernel takes this queue's writes through NAPI (IFF_NAPI): a written packet is queued and handed to
    /// the network stack by the queue's poll, in batches, instead of being pushed through the receiving host's stack
    /// inside the write call.
    /// </summary>
    public bool UsesNapi { get; }

    /// <summary>
    /// Opens the TUN interface <paramref name="name"/>, creating it when it does not exist. With
    /// <paramref name="netns"/> (a name under /var/run/netns) the interface is looked up (or created) inside that
    /// network namespace, where a persistent device the environment prepared lives; the calling thread's namespace is
    /// left alone. Needs CAP_NET_ADMIN (root).
    /// </summary>
    /// <param name="name">The interface name (at most 15 characters).</param>
    /// <param name="offload">Ask for TCP segmentation and checksum offload (packets carry a virtio-net header).</param>
    /// <param name="netns">The network namespace the interface is in, or null for this process's.</param>
    /// <param name="napi">Ask for NAPI on writes (IFF_NAPI); a kernel that refuses it gets a plain queue (<see cref="UsesNapi"/>).</param>
    /// <exception cref="Win32Exception">The device could not be opened or configured; the message says which call failed.</exception>
    public static TunDevice Open(string name, bool offload = false, string? netns = null, bool napi = false) => OpenQueues(name, 1, offload, netns, napi)[0];

    /// <summary>
    /// Opens <paramref name="queues"/> queues of the multi-queue TUN interface <paramref name="name"/> (IFF_MULTI_QUEUE),
    /// creating it when it does not exist: one descriptor per queue. The kernel hands each packet it sends into the
    /// interface to one queue by the hash of its flow (addresses, and ports unless it is a fragment), so one flow's
    /// packets, and all fragments of one datagram, always reach the same queue. A persistent device must have been made
    /// multi-queue (<c>ip tuntap add … multi_queue</c>) to be opened with more than one queue. One queue is a plain TUN
    /// (<see cref="Open"/>).
    /// </summary>
    /// <param name="name">The interface name (at most 15 characters).</param>
    /// <param name="queues">How many queues to open.</param>
    /// <param name="offload">Ask for TCP segmentation and checksum offload (packets carry a virtio-net header).</param>
    /// <param name="netns">The network namespace the interface is in, or null for this process's.</param>
    /// <param name="napi">Ask for NAPI on writes (IFF_NAPI) on every queue; a kernel that refuses it gets plain queues.</param>
    /// <exception cref="Win32Exception">A queue could not be opened or configured; those opened are closed again.</exception>
    public static IReadOnlyList<TunDevice> OpenQueues(string name, int queues, bool offload = false, string? netns = null, bool napi = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        if (System.Text.Encoding.ASCII.GetByteCount(name) > 15) throw new ArgumentException("Interface names are at most 15 characters.", nameof(name));
        // Opened inside the namespace; the descriptors keep working from any thread.
        return NetworkNamespace.Run(netns, () => OpenAllHere(name, queues, offload, napi));
    }

    private static TunDevice[] OpenAllHere(string name, int queues, bool offload, bool napi)
    {
        var devices = new List<TunDevice>(queues);
        try
        {
            for (int i = 0; i < queues; i++) devices.Add(OpenHere(name, offload, multiQueue: queues > 1, napi));
            return [.. devices];
        }
        catch
        {
            devices.ForEach(d => d.Dispose());
            throw;
        }
    }

    /// <summary>
    /// Runs the packet path's methods once on a descriptor that cannot exist (the calls fail with EBADF and do
    /// nothing), so their code and the libc bindings are compiled now and not under the first packet (~1 ms).
    /// </summary>
    static TunDevice()
    {
        var unopened = new TunDevice(-1, "unopened", offload: false);
        unopened.WaitReadable(0);
        unopened.WaitEitherReadable(unopened, 0);
        try { unopened.Read(stackalloc byte[1]); } catch (Win32Exception) { }
        try { unopened.Write(stackalloc byte[1]); } catch (Win32Exception) { }
    }

    private static TunDevice OpenHere(string name, bool offload, bool multiQueue, bool napi)
    {
        int fd = OpenFile("/dev/net/tun", ReadWrite | NonBlocking | CloseOnExec);
        if (fd < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), "open /dev/net/tun failed (is this root, and is the tun module loaded?)");
        var request = default(InterfaceRequest);
        System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, 16));
        short flags = (short)(Tun | NoPacketInfo | (offload ? VnetHeader : 0) | (multiQueue ? MultiQueue : 0));
        request.Flags = napi ? (short)(flags | Napi) : flags;
        bool attached = Control(fd, SetInterface, &request) >= 0;
        if (!attached && napi)
        {
            // A kernel without IFF_NAPI (before 4.15) or one that reserves it says EINVAL or EPERM: a plain queue then.
            napi = false;
            request.Flags = flags;
            attached = Control(fd, SetInterface, &request) >= 0;
        }
        if (!attached)
        {
            int error = Marshal.GetLastPInvokeError();
            Close(fd);
            throw new Win32Exception(error, $"TUNSETIFF for '{name}' failed");
        }
        if (offload && Control(fd, SetOffload, (void*)(nuint)(OffloadChecksum | OffloadTso4 | OffloadTsoEcn)) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            Close(fd);
            throw new Win32Exception(error, $"TUNSETOFFLOAD for '{name}' failed");
        }
        return new TunDevice(fd, name, offload, napi);
    }

    /// <inheritdoc/>
    public bool WaitReadable(int timeoutMilliseconds)
    {
        var poll = new PollDescriptor { Fd = _fd, Events = PollIn };
        return Poll(&poll, 1, timeoutMilliseconds) > 0;
    }

    /// <inheritdoc/>
    public bool WaitEitherReadable(IPacketPort other, int timeoutMilliseconds)
    {
        if (other is not TunDevice tun) return WaitReadable(0) || other.WaitReadable(timeoutMilliseconds);
        var both = stackalloc PollDescriptor[2];
        both[0] = new PollDescriptor { Fd = _fd, Events = PollIn };
        both[1] = new PollDescriptor { Fd = tun._fd, Events = PollIn };
        return Poll(both, 2, timeoutMilliseconds) > 0;
    }

    /// <inheritdoc/>
    public int Read(Span<byte> frame)
    {
        fixed (byte* data = frame)
        {
            nint read = ReadFile(_fd, data, (nuint)frame.Length);
            if (read >= 0) return (int)read;
            int error = Marshal.GetLastPInvokeError();
            if (error is Interrupted or WouldBlock) return 0;
            throw new Win32Exception(error, $"read from {Name} failed");
        }
    }

    /// <inheritdoc/>
    public bool Write(ReadOnlySpan<byte> frame)
    {
        fixed (byte* data = frame)
        {
            if (WriteFile(_fd, data, (nuint)frame.Length) >= 0) return true;
            int error = Marshal.GetLastPInvokeError();
            // EIO: the interface is down (e.g. while it moves between namespaces); the packet is lost like on a wire.
            if (error is InputOutput or WouldBlock or Interrupted) return false;
            throw new Win32Exception(error, $"write to {Name} failed");
        }
    }

    /// <summary>Closes the descriptor, which removes a non-persistent interface.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Close(fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct InterfaceRequest
    {
        public fixed byte Name[16];
        public short Flags;
        public fixed byte Padding[22];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Control(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollDescriptor* descriptors, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadFile(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteFile(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
