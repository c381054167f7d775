using System.Buffers.Binary;
using System.ComponentModel;
using System.Runtime.InteropServices;
using NatFramework;

namespace NatRouter;

/// <summary>
/// One receive queue of an Ethernet interface (a veth, a NIC) worked through an AF_XDP socket instead of the kernel's
/// stack: the XDP program on the interface hands every frame of the queue to the router, which takes IPv4 packets out of their
/// frames without a system call, answers ARP for its own address itself, and frames what it writes for the neighbor's
/// MAC address (learned by ARP; a packet for a neighbor not known yet waits for the answer). Writes are queued in the
/// socket's transmit ring and sent by one kick per burst (<see cref="Flush"/>). The interface must be up; the router
/// neither addresses nor configures it, and the kernel's stack sees nothing of it while the router runs (the program
/// is detached when the port closes, also when the process dies).
/// <para>The link's hosts must send finished checksums, as they do on a wire: a veth peer in the same machine that
/// leaves its TCP/UDP checksums to "hardware" (tx-checksumming, on by default) hands over packets whose checksum only
/// the kernel's stack would finish, so turn it off there (<c>ethtool -K PEER tx off</c>).</para>
/// </summary>
public sealed partial class XdpPort : IPacketPort, IDisposable
{
    private readonly XdpSocket _socket;
    private readonly Link _link;
    private readonly uint _address;
    private readonly uint _gateway;
    private readonly byte[] _arpFrame = new byte[EthernetFrame.HeaderLength + EthernetFrame.ArpLength];
    private readonly byte[] _header = new byte[EthernetFrame.HeaderLength];
    private int _queued, _disposed;
    private long _arpRequests, _arpReplies, _notForUs, _unusable, _refused, _deferred;

    /// <summary>
    /// What the queues of one interface share: the redirect program (detached when the last queue closes), the
    /// neighbor table, and the lock that guards it and every queue's transmit ring (a queue's ring is written by the
    /// lane that reads the other interface, and by its own lane for hairpins and ICMP answers).
    /// </summary>
    private sealed class Link(XdpRedirectProgram program, int queues)
    {
        private int _open = queues;
        public XdpRedirectProgram Program { get; } = program;
        public NeighborTable Neighbors { get; } = new();
        public Lock Lock { get; } = new();
        public List<byte[]> Released { get; } = new();

        public void Close()
        {
            if (Interlocked.Decrement(ref _open) == 0) Program.Dispose();
        }
    }

    private XdpPort(string name, int queue, XdpSocket socket, Link link, ulong mac, Ipv4Address address, Ipv4Address? gateway)
    {
        Name = name;
        Queue = queue;
        _socket = socket;
        _link = link;
        Mac = mac;
        _address = address.Value;
        _gateway = gateway?.Value ?? 0;
    }

    /// <summary>
    /// Compiles the port's packet and ARP paths now, and runs the neighbor table once: tiered compilation is off for the
    /// router, so a method is compiled fully at its first call, and the first packets through a new port (an ARP
    /// exchange, a held packet released) waited ~20 ms for the JIT.
    /// </summary>
    static XdpPort()
    {
        const System.Reflection.BindingFlags Declared = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static
            | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.DeclaredOnly;
        foreach (var type in new[] { typeof(XdpPort), typeof(XdpSocket), typeof(NeighborTable), typeof(EthernetFrame) })
            foreach (var method in type.GetMethods(Declared))
                if (!method.IsAbstract && !method.ContainsGenericParameters) System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(method.MethodHandle);
        var table = new NeighborTable();
        var released = new List<byte[]>();
        table.Resolve(1, [0], 0, out _);
        table.Learn(1, 1, 1, create: false, released);
        table.Learn(2, 2, 1, create: true, released);
        table.TryGetKnown(2, out _);
        var frame = new byte[EthernetFrame.HeaderLength + EthernetFrame.ArpLength];
        EthernetFrame.WriteArp(frame, EthernetFrame.Broadcast, 1, new EthernetFrame.Arp(EthernetFrame.ArpRequest, 1, 1, 0, 2));
        EthernetFrame.TryReadArp(frame.AsSpan(EthernetFrame.HeaderLength), out _);
        // The router calls a port through IPacketPort; the runtime sets up that dispatch for a type at its first call
        // (~5 ms here, under the first frame). A port on no socket makes those calls now: nothing to read, a packet too
        // short to send, nothing to flush, a poll of no descriptor.
        IPacketPort unopened = new XdpPort("unopened", 0, XdpSocket.Unopened(), new Link(XdpRedirectProgram.Unattached(), 1), 0, default, null);
        _ = unopened.Offload;
        unopened.Read(frame);
        unopened.Write(frame.AsSpan(0, 1));
        unopened.WaitReadable(0);
        unopened.WaitEitherReadable(unopened, 0);
        unopened.Flush();
    }

    /// <summary>The interface name.</summary>
    public string Name { get; }

    /// <summary>The receive queue this port's socket is bound to.</summary>
    public int Queue { get; }

    /// <summary>The interface's MAC address, the source of every frame the port writes.</summary>
    public ulong Mac { get; }

    /// <summary>True when the XDP program runs in the driver; false when in the kernel's generic path (slower, works everywhere).</summary>
    public bool NativeXdp => _link.Program.Native;

    /// <summary>True when the driver moves frames without a copy (a NIC that supports it); a veth works in copy mode.</summary>
    public bool ZeroCopy => _socket.ZeroCopy;

    /// <summary>Always: a look is a read of the receive ring's producer index in shared memory.</summary>
    public bool PollsWithoutSystemCall => true;

    /// <summary>Never: frames carry no virtio-net header and every packet is whole.</summary>
    public bool Offload => false;

    /// <summary>ARP requests sent (for neighbors not known yet or to check old entries).</summary>
    public long ArpRequestsSent => Interlocked.Read(ref _arpRequests);

    /// <summary>ARP replies sent (to neighbors asking for the port's address).</summary>
    public long ArpRepliesSent => Interlocked.Read(ref _arpReplies);

    /// <summary>Packets dropped because their neighbor did not answer ARP in time (or too many waited); one count for all queues of the interface.</summary>
    public long Unresolved { get { lock (_link.Lock) return _link.Neighbors.Unresolved; } }

    /// <summary>Frames dropped before the router saw them: unicast to another MAC, shorter than a header, or unusable ARP.</summary>
    public long FramesIgnored => Interlocked.Read(ref _notForUs) + Interlocked.Read(ref _unusable);

    /// <summary>
    /// Frames the kernel dropped before the router saw them, by the socket's statistics: no room in the receive ring,
    /// or (in copy mode, the same overload seen from the other side) no free frame in the fill ring because all of them
    /// waited in the receive ring — the router did not keep up with the link — or a frame larger than a UMEM frame.
    /// </summary>
    public ulong ReceiveDropped
    {
        get
        {
            var statistics = _socket.ReadStatistics();
            return statistics.ReceiveRingFull + statistics.ReceiveDropped + statistics.ReceiveInvalidDescriptors;
        }
    }

    /// <summary>Kicks the kernel could not act on (the link down, or the device busy): what they were to send waits in the ring.</summary>
    public long SendsDeferred => Interlocked.Read(ref _deferred);

    /// <summary>Packets the transmit ring had no room for.</summary>
    public long TransmitRefused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Opens <paramref name="name"/> (in <paramref name="netns"/>, when given): attaches the redirect program, binds an
    /// AF_XDP socket to queue 0. <paramref name="address"/> is the router's address on this link (answered for in ARP, the
    /// source of its ARP requests); with <paramref name="gateway"/>, every packet is framed for the gateway's MAC, without
    /// it for its destination's (all destinations on the link).
    /// </summary>
    /// <exception cref="Win32Exception">The interface, the program or the socket could not be set up; the message names the step.</exception>
    public static XdpPort Open(string name, Ipv4Address address, Ipv4Address? gateway = null, string? netns = null) =>
        OpenQueues(name, 1, address, gateway, netns)[0];

    /// <summary>
    /// Opens receive queues 0 to <paramref name="queues"/> − 1 of <paramref name="name"/>, a port (an AF_XDP socket with a
    /// UMEM of its own) per queue, one program and one neighbor table for all: each a lane's, as the queues of a
    /// multi-queue TUN. The interface must have that many receive queues (a NIC's channels; a veth made with
    /// <c>numrxqueues</c>, whose peer sends on as many).
    /// </summary>
    /// <exception cref="Win32Exception">The interface, the program or a socket could not be set up; what was opened is closed again.</exception>
    public static IReadOnlyList<XdpPort> OpenQueues(string name, int queues, Ipv4Address address, Ipv4Address? gateway = null, string? netns = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        return NetworkNamespace.Run(netns, () =>
        {
            int ifindex = (int)InterfaceIndex(name);
            if (ifindex == 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), $"interface '{name}' not found{(netns is null ? "" : $" in network namespace '{netns}'")}");
            ulong mac = InterfaceMac(name);
            var program = XdpRedirectProgram.Attach(ifindex, name, queues);
            var sockets = new List<XdpSocket>(queues);
            try
            {
                for (int queue = 0; queue < queues; queue++)
                {
                    sockets.Add(new XdpSocket(ifindex, queue, name));
                    program.Bind(queue, sockets[queue].Fd);
                }
            }
            catch
            {
                sockets.ForEach(socket => socket.Dispose());
                program.Dispose();
                throw;
            }
            var link = new Link(program, queues);
            return (IReadOnlyList<XdpPort>)[.. sockets.Select((socket, queue) => new XdpPort(name, queue, socket, link, mac, address, gateway))];
        });
    }

    /// <summary>True when this kernel opens AF_XDP sockets for this process; otherwise <paramref name="why"/> says why not.</summary>
    public static bool IsSupported(out string? why)
    {
        const int AddressFamilyXdp = 44, SocketRaw = 3, NotSupported = 97, NotPermitted = 1; // EAFNOSUPPORT, EPERM
        int fd = Socket(AddressFamilyXdp, SocketRaw | 0x80000, 0);
        if (fd >= 0)
        {
            Close(fd);
            why = null;
            return true;
        }
        int error = Marshal.GetLastPInvokeError();
        why = error switch
        {
            NotSupported => "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)",
            NotPermitted => "AF_XDP sockets need CAP_NET_RAW (root)",
            _ => $"AF_XDP sockets cannot be opened: {new Win32Exception(error).Message}",
        };
        return false;
    }

    /// <inheritdoc/>
    public bool WaitReadable(int timeoutMilliseconds) => _socket.WaitReadable(null, timeoutMilliseconds);

    /// <inheritdoc/>
    public bool WaitEitherReadable(IPacketPort other, int timeoutMilliseconds) =>
        other is XdpPort port ? _socket.WaitReadable(port._socket, timeoutMilliseconds) : WaitReadable(0) || other.WaitReadable(timeoutMilliseconds);

    /// <summary>
    /// Reads the next IPv4 packet (or other non-ARP payload, which the router drops as not IPv4) received for this port;
    /// ARP is handled here and never returned. 0 when nothing is queued.
    /// </summary>
    public int Read(Span<byte> frame)
    {
        while (_socket.TryReceive(out var received, out ulong address))
        {
            try
            {
                if (received.Length < EthernetFrame.HeaderLength)
                {
                    Interlocked.Increment(ref _unusable);
                    continue;
                }
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(received[12..]);
                if (type == EthernetFrame.ArpType)
                {
                    HandleArp(received[EthernetFrame.HeaderLength..]);
                    continue;
                }
                ulong destination = EthernetFrame.ReadMac(received);
                if (destination != Mac && !EthernetFrame.IsGroup(destination))
                {
                    // Unicast to another station: a NIC in normal mode would not have taken it, and a router must not forward it.
                    Interlocked.Increment(ref _notForUs);
                    continue;
                }
                var payload = received[EthernetFrame.HeaderLength..];
                if (payload.Length > frame.Length)
                {
                    Interlocked.Increment(ref _unusable);
                    continue;
                }
                payload.CopyTo(frame);
                return payload.Length;
            }
            finally
            {
                _socket.Release(address);
            }
        }
        return 0;
    }

    /// <summary>
    /// Frames an IPv4 packet for its next hop and queues it for sending (a neighbor not known yet: held while ARP asks).
    /// False when the packet is lost (no room in the transmit ring). Safe from several threads.
    /// </summary>
    public bool Write(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 20) return false;
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(packet[16..]);
        uint nextHop = _gateway != 0 ? _gateway : destination;
        lock (_link.Lock)
        {
            var step = _link.Neighbors.Resolve(nextHop, packet, Environment.TickCount64, out ulong mac);
            if (step is NeighborTable.Step.SendAndRequest or NeighborTable.Step.HeldAndRequest) QueueArp(EthernetFrame.ArpRequest, EthernetFrame.Broadcast, 0, nextHop);
            if (step is NeighborTable.Step.Held or NeighborTable.Step.HeldAndRequest)
            {
                FlushIfFull();
                return true;
            }
            return QueueIpv4(mac, packet);
        }
    }

    /// <summary>Sends what <see cref="Write"/> queued (one system call for the whole burst).</summary>
    public void Flush()
    {
        if (Interlocked.Exchange(ref _queued, 0) > 0 && !_socket.Kick())
        {
            // The frames stay in the ring; the next burst's kick (or this one's, once the link is back) sends them.
            Interlocked.Increment(ref _deferred);
            Interlocked.Increment(ref _queued);
        }
    }

    /// <summary>Learns from an ARP packet and answers a request for this port's address (RFC 826's algorithm).</summary>
    private void HandleArp(ReadOnlySpan<byte> payload)
    {
        if (!EthernetFrame.TryReadArp(payload, out var arp))
        {
            Interlocked.Increment(ref _unusable);
            return;
        }
        // Nothing to learn from our own address echoed back, a group sender, or a probe without a sender address (RFC 5227).
        if (arp.SenderAddress == _address || arp.SenderAddress == 0 || EthernetFrame.IsGroup(arp.SenderMac)) return;
        long now = Environment.TickCount64;
        lock (_link.Lock)
        {
            bool forUs = arp.TargetAddress == _address;
            _link.Neighbors.Learn(arp.SenderAddress, arp.SenderMac, now, create: forUs, _link.Released);
            foreach (var held in _link.Released) QueueIpv4(arp.SenderMac, held);
            _link.Released.Clear();
            if (forUs && arp.Operation == EthernetFrame.ArpRequest) QueueArp(EthernetFrame.ArpReply, arp.SenderMac, arp.SenderMac, arp.SenderAddress);
        }
        Flush();
    }

    private bool QueueIpv4(ulong mac, ReadOnlySpan<byte> packet)
    {
        EthernetFrame.WriteHeader(_header, mac, Mac, EthernetFrame.Ipv4Type);
        bool queued = _socket.TryQueue(_header, packet);
        if (!queued) Interlocked.Increment(ref _refused);
        FlushIfFull();
        return queued;
    }

    private void QueueArp(ushort operation, ulong destination, ulong targetMac, uint targetAddress)
    {
        EthernetFrame.WriteArp(_arpFrame, destination, Mac, new EthernetFrame.Arp(operation, Mac, _address, targetMac, targetAddress));
        if (!_socket.TryQueue(_arpFrame, [])) Interlocked.Increment(ref _refused);
        else Interlocked.Increment(ref operation == EthernetFrame.ArpRequest ? ref _arpRequests : ref _arpReplies);
        FlushIfFull();
    }

    /// <summary>Kicks every burst's worth of queued frames, so a long run of writes without a flush keeps the ring moving.</summary>
    private void FlushIfFull()
    {
        if (Interlocked.Increment(ref _queued) >= RouterLane.MaxBurst) Flush();
    }

    /// <summary>Closes the socket; the last queue of the interface to close detaches the program, and the interface goes back to the kernel's stack.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _socket.Dispose();
        _link.Close();
    }

    private static unsafe ulong InterfaceMac(string name)
    {
        const int Inet = 2, Datagram = 2, GetHardwareAddress = 0x8927; // AF_INET, SOCK_DGRAM, SIOCGIFHWADDR
        const ushort EthernetHardware = 1; // ARPHRD_ETHER
        int fd = Socket(Inet, Datagram | 0x80000, 0);
        if (fd < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), "opening a socket to read the MAC address failed");
        try
        {
            var request = stackalloc byte[40];
            new Span<byte>(request, 40).Clear();
            System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(request, 15));
            if (Control(fd, GetHardwareAddress, request) < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), $"reading the MAC address of {name} failed");
            if (*(ushort*)(request + 16) != EthernetHardware) throw new InvalidOperationException($"{name} is not an Ethernet interface (an AF_XDP port frames packets for Ethernet)");
            return EthernetFrame.ReadMac(new ReadOnlySpan<byte>(request + 18, 6));
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint InterfaceIndex(string name);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int Control(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
