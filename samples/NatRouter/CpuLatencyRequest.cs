namespace NatRouter;

/// <summary>
/// A request to Linux's CPU latency quality of service (<c>/dev/cpu_dma_latency</c>): while it is held, idle CPUs stay in
/// states they leave within the given time. At 0 an idle CPU polls instead of halting, so the router's thread, asleep
/// between packets, wakes in a few microseconds; a halted vCPU first has to be scheduled again by its host. The kernel
/// drops the request when the file is closed, so it never outlives the router, however the router ends. It costs what
/// polling costs: idle CPUs stay busy (on a VM, its host's CPUs). The tuned profile <c>network-latency</c> makes the same
/// request for a whole machine.
/// </summary>
public sealed class CpuLatencyRequest : IDisposable
{
    /// <summary>The kernel's interface for the request (root only).</summary>
    public const string DevicePath = "/dev/cpu_dma_latency";

    /// <summary>The largest request: the kernel's value for no limit at all (2,000 s).</summary>
    public const int MaxMicroseconds = 2_000_000_000;

    private FileStream? _device;

    private CpuLatencyRequest(FileStream device, TimeSpan latency)
    {
        _device = device;
        Latency = latency;
    }

    /// <summary>The wake-up latency requested.</summary>
    public TimeSpan Latency { get; }

    /// <summary>
    /// Makes the request, or explains why it could not be made (not Linux, no such device, not permitted) — a router runs
    /// on without it.
    /// </summary>
    /// <param name="latency">The longest wake-up allowed, whole microseconds (0: idle CPUs poll).</param>
    /// <param name="request">The held request.</param>
    /// <param name="error">Why not, when it could not be made.</param>
    /// <returns>True when the request is held.</returns>
    public static bool TryHold(TimeSpan latency, out CpuLatencyRequest? request, out string? error)
    {
        request = null;
        error = null;
        long microseconds = (long)latency.TotalMicroseconds;
        if (microseconds < 0 || microseconds > MaxMicroseconds)
        {
            error = $"a CPU wake-up latency of {microseconds} µs is outside 0–{MaxMicroseconds} µs";
            return false;
        }
        if (!OperatingSystem.IsLinux())
        {
            error = "CPU latency requests are a Linux interface";
            return false;
        }
        FileStream? device = null;
        try
        {
            device = new FileStream(DevicePath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            // The value as a 32-bit integer in the machine's byte order (the kernel also takes hexadecimal text).
            Span<byte> value = stackalloc byte[sizeof(int)];
            BitConverter.TryWriteBytes(value, (int)microseconds);
            device.Write(value);
            request = new CpuLatencyRequest(device, TimeSpan.FromMicroseconds(microseconds));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            device?.Dispose();
            error = $"{DevicePath}: {e.Message}";
            return false;
        }
    }

    /// <summary>The latency in force now, over every holder's request (2,000 s when nobody asks), or null when unreadable.</summary>
    /// <returns>The machine's current CPU wake-up latency limit.</returns>
    public static TimeSpan? Current()
    {
        try
        {
            using var device = new FileStream(DevicePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            Span<byte> value = stackalloc byte[sizeof(int)];
            device.ReadExactly(value);
            return TimeSpan.FromMicroseconds(BitConverter.ToInt32(value));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>Withdraws the request (closing the file is what withdraws it).</summary>
    public void Dispose()
    {
        _device?.Dispose();
        _device = null;
    }
}
