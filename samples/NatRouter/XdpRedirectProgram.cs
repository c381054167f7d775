using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NatRouter;

/// <summary>
/// The XDP program that hands an interface's frames to AF_XDP sockets, loaded and attached with the bpf() system call
/// (no libbpf, no compiler: the program is five instructions written out below). It looks up the frame's receive queue
/// in an XSKMAP and redirects the frame to the socket found there; a queue without a socket passes its frames on to
/// the kernel's own stack. The attachment is a BPF link: it lasts while this object's descriptor is open, so a router
/// that dies leaves no program behind on the interface.
/// </summary>
internal sealed unsafe partial class XdpRedirectProgram : IDisposable
{
    // bpf() commands, map and program types, attach type and XDP flags (linux/bpf.h, linux/if_link.h).
    private const int MapCreate = 0, MapUpdateElement = 2, ProgramLoad = 5, LinkCreate = 28;
    private const uint XskMap = 17, XdpProgramType = 6, XdpAttachType = 37;
    private const uint DriverMode = 4, GenericMode = 2; // XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE
    private const uint XdpPass = 2;
    private const int BpfFunctionRedirectMap = 51;
    private const int AttributeSize = 128;

    private int _map, _program, _link;

    private XdpRedirectProgram(int map, int program, int link, bool native)
    {
        _map = map;
        _program = program;
        _link = link;
        Native = native;
    }

    /// <summary>An object holding no program (for warming the packet path up without an interface).</summary>
    public static XdpRedirectProgram Unattached() => new(-1, -1, -1, native: false);

    /// <summary>True when the program runs in the driver (native XDP); false when in the generic (skb) path.</summary>
    public bool Native { get; }

    /// <summary>
    /// Loads the program with an XSKMAP of <paramref name="queues"/> entries and attaches it to interface
    /// <paramref name="ifindex"/> of the calling thread's network namespace, natively when the driver can, else generically.
    /// </summary>
    /// <exception cref="Win32Exception">A bpf() call failed (the message names it; EPERM: not root; EBUSY: the interface already has an XDP program).</exception>
    public static XdpRedirectProgram Attach(int ifindex, string name, int queues)
    {
        int map = -1, program = -1;
        try
        {
            var attributes = stackalloc byte[AttributeSize];
            new Span<byte>(attributes, AttributeSize).Clear();
            ((uint*)attributes)[0] = XskMap;
            ((uint*)attributes)[1] = 4; // key: the queue index
            ((uint*)attributes)[2] = 4; // value: an AF_XDP socket's descriptor
            ((uint*)attributes)[3] = (uint)queues;
            map = Check((int)Bpf(MapCreate, attributes), $"creating the XSKMAP for {name}");
            program = Load(map, name);
            int link = TryLink(program, ifindex, DriverMode, out int nativeError);
            if (link >= 0) return new XdpRedirectProgram(map, program, link, native: true);
            link = TryLink(program, ifindex, GenericMode, out int genericError);
            if (link < 0) throw new Win32Exception(genericError, $"attaching XDP to {name} failed (native: {new Win32Exception(nativeError).Message})");
            return new XdpRedirectProgram(map, program, link, native: false);
        }
        catch
        {
            if (program >= 0) Close(program);
            if (map >= 0) Close(map);
            throw;
        }
    }

    /// <summary>Puts the AF_XDP socket <paramref name="socketFd"/> in the map for receive queue <paramref name="queue"/>.</summary>
    public void Bind(int queue, int socketFd)
    {
        var attributes = stackalloc byte[AttributeSize];
        new Span<byte>(attributes, AttributeSize).Clear();
        int key = queue, value = socketFd;
        *(uint*)attributes = (uint)_map;
        *(ulong*)(attributes + 8) = (ulong)&key;
        *(ulong*)(attributes + 16) = (ulong)&value;
        Check((int)Bpf(MapUpdateElement, attributes), $"putting the AF_XDP socket of queue {queue} in the XSKMAP");
    }

    /// <summary>
    /// The program, in eBPF instructions (8 bytes each: opcode, destination and source registers, offset, immediate):
    /// <c>return bpf_redirect_map(&amp;xsks, ctx->rx_queue_index, XDP_PASS)</c>. The lowest bits of the flags argument are
    /// what the helper returns when the map holds nothing for the key (Linux 5.3 and later).
    /// </summary>
    private static int Load(int map, string name)
    {
        ulong* instructions = stackalloc ulong[6];
        instructions[0] = Instruction(0x61, destination: 2, source: 1, offset: 16, immediate: 0);    // r2 = *(u32 *)(r1 + 16): rx_queue_index
        instructions[1] = Instruction(0x18, destination: 1, source: 1, offset: 0, immediate: map);   // r1 = the map (a 16-byte load,
        instructions[2] = 0;                                                                      //   its second half zero)
        instructions[3] = Instruction(0xb7, destination: 3, source: 0, offset: 0, immediate: (int)XdpPass); // r3 = XDP_PASS
        instructions[4] = Instruction(0x85, destination: 0, source: 0, offset: 0, immediate: BpfFunctionRedirectMap); // call
        instructions[5] = Instruction(0x95, destination: 0, source: 0, offset: 0, immediate: 0);     // exit (r0)
        var license = "Dual MIT/GPL\0"u8;
        var programName = "natrouter_xsk\0"u8;
        const int LogSize = 16 * 1024;
        var log = stackalloc byte[LogSize];
        var attributes = stackalloc byte[AttributeSize];
        fixed (byte* licenseBytes = license)
        fixed (byte* nameBytes = programName)
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                new Span<byte>(attributes, AttributeSize).Clear();
                ((uint*)attributes)[0] = XdpProgramType;
                ((uint*)attributes)[1] = 6;
                *(ulong*)(attributes + 8) = (ulong)instructions;
                *(ulong*)(attributes + 16) = (ulong)licenseBytes;
                if (attempt == 1)
                {
                    // Second try only to fetch the verifier's explanation for the error message.
                    ((uint*)attributes)[6] = 1;
                    ((uint*)attributes)[7] = LogSize;
                    *(ulong*)(attributes + 32) = (ulong)log;
                    log[0] = 0;
                }
                new ReadOnlySpan<byte>(nameBytes, programName.Length).CopyTo(new Span<byte>(attributes + 48, 16));
                ((uint*)attributes)[17] = XdpAttachType;
                int fd = (int)Bpf(ProgramLoad, attributes);
                if (fd >= 0) return fd;
                if (attempt == 1)
                {
                    int error = Marshal.GetLastPInvokeError();
                    string why = Marshal.PtrToStringUTF8((nint)log) ?? "";
                    throw new Win32Exception(error, $"loading the XDP program for {name} failed{(why.Length > 0 ? ": " + why.Trim() : "")}");
                }
            }
        }
        throw new UnreachableException();
    }

    private static int TryLink(int program, int ifindex, uint mode, out int error)
    {
        var attributes = stackalloc byte[AttributeSize];
        new Span<byte>(attributes, AttributeSize).Clear();
        ((uint*)attributes)[0] = (uint)program;
        ((uint*)attributes)[1] = (uint)ifindex;
        ((uint*)attributes)[2] = XdpAttachType;
        ((uint*)attributes)[3] = mode;
        int link = (int)Bpf(LinkCreate, attributes);
        error = link < 0 ? Marshal.GetLastPInvokeError() : 0;
        return link;
    }

    private static ulong Instruction(byte opcode, int destination, int source, short offset, int immediate) =>
        opcode | (ulong)(byte)(destination | source << 4) << 8 | (ulong)(ushort)offset << 16 | (ulong)(uint)immediate << 32;

    private static int Check(int result, string what) =>
        result >= 0 ? result : throw new Win32Exception(Marshal.GetLastPInvokeError(), what + " failed");

    private static long Bpf(int command, byte* attributes) => Syscall(BpfSystemCall, command, attributes, AttributeSize);

    /// <summary>bpf()'s system call number; glibc has no wrapper for it.</summary>
    private static long BpfSystemCall => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => 280,
        var other => throw new PlatformNotSupportedException($"AF_XDP is wired up for x64 and arm64, not {other}"),
    };

    /// <summary>Detaches the program from the interface and frees it and its map.</summary>
    public void Dispose()
    {
        foreach (int fd in new[] { Interlocked.Exchange(ref _link, -1), Interlocked.Exchange(ref _program, -1), Interlocked.Exchange(ref _map, -1) })
            if (fd >= 0) Close(fd);
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long command, byte* attributes, long size);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
