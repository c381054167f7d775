using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NatRouter;

/// <summary>
/// A Linux TUN interface (IFF_TUN | IFF_NO_PI: raw IP packets, no header) opened through /dev/net/tun. The device
/// exists while the descriptor is open; moving it to another network namespace keeps the descriptor working.
/// Reads wait with poll() and a timeout, so a reading thread can notice it should stop (closing a descriptor does not
/// wake a blocked read).
/// </summary>
public sealed unsafe partial class TunDevice : IDisposable
{
    private const int ReadWrite = 2;           // O_RDWR
    private const nuint SetInterface = 0x400454ca; // TUNSETIFF
    private const short Tun = 0x0001;          // IFF_TUN
    private const short NoPacketInfo = 0x1000; // IFF_NO_PI
    private const short PollIn = 0x0001;       // POLLIN
    private const int Interrupted = 4;         // EINTR
    private const int WouldBlock = 11;         // EAGAIN
    private int _fd;

    private TunDevice(int fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    /// <summary>The interface name.</summary>
    public string Name { get; }

    /// <summary>Opens (creating if needed) the TUN interface <paramref name="name"/>. Needs CAP_NET_ADMIN (root).</summary>
    /// <exception cref="Win32Exception">The device could not be opened or configured; the message says which call failed.</exception>
    public static TunDevice Open(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (System.Text.Encoding.ASCII.GetByteCount(name) > 15) throw new ArgumentException("Interface names are at most 15 characters.", nameof(name));
        int fd = OpenFile("/dev/net/tun", ReadWrite);
        if (fd < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), "open /dev/net/tun failed (is this root, and is the tun module loaded?)");
        var request = default(InterfaceRequest);
        System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, 16));
        request.Flags = Tun | NoPacketInfo;
        if (Control(fd, SetInterface, ref request) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            Close(fd);
            throw new Win32Exception(error, $"TUNSETIFF for '{name}' failed");
        }
        return new TunDevice(fd, name);
    }

    /// <summary>Reads one packet into <paramref name="buffer"/> (≥ the MTU); 0 when nothing arrived within the timeout.</summary>
    public int Read(Span<byte> buffer, int timeoutMilliseconds)
    {
        var poll = new PollDescriptor { Fd = _fd, Events = PollIn };
        int ready = Poll(ref poll, 1, timeoutMilliseconds);
        if (ready <= 0) return 0;
        fixed (byte* data = buffer)
        {
            nint read = ReadFile(_fd, data, (nuint)buffer.Length);
            if (read >= 0) return (int)read;
            int error = Marshal.GetLastPInvokeError();
            if (error is Interrupted or WouldBlock) return 0;
            throw new Win32Exception(error, $"read from {Name} failed");
        }
    }

    /// <summary>Writes one packet. The kernel verifies checksums and silently drops a packet whose checksum is wrong.</summary>
    public void Write(ReadOnlySpan<byte> packet)
    {
        fixed (byte* data = packet)
        {
            if (WriteFile(_fd, data, (nuint)packet.Length) < 0)
            {
                int error = Marshal.GetLastPInvokeError();
                // EIO: the interface is down (e.g. while it moves between namespaces); the packet is lost like on a wire.
                if (error != 5) throw new Win32Exception(error, $"write to {Name} failed");
            }
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
    private static partial int Control(int fd, nuint request, ref InterfaceRequest value);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollDescriptor descriptors, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadFile(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteFile(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
