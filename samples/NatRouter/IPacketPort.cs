namespace NatRouter;

/// <summary>
/// One side of the router: where packets are read from and written to. <see cref="TunDevice"/> is the real one; tests
/// drive the packet path through an in-memory port.
/// </summary>
public interface IPacketPort
{
    /// <summary>True when every frame starts with a <see cref="VirtioNetHeader"/> (TUN offloads on).</summary>
    bool Offload { get; }

    /// <summary>
    /// True when looking for a frame costs no system call (<see cref="XdpPort"/>'s rings in shared memory): a polling
    /// router then yields the CPU only when a look found nothing. False for a TUN, where each look is a read().
    /// </summary>
    bool PollsWithoutSystemCall => false;

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for a frame to read; false on timeout.</summary>
    bool WaitReadable(int timeoutMilliseconds);

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for a frame on this port or on <paramref name="other"/>.</summary>
    bool WaitEitherReadable(IPacketPort other, int timeoutMilliseconds) => WaitReadable(0) || other.WaitReadable(timeoutMilliseconds);

    /// <summary>Reads one frame without waiting; 0 when none is queued.</summary>
    int Read(Span<byte> frame);

    /// <summary>
    /// Writes one frame; false when the interface dropped it (e.g. it is down), as a wire would. Called from both lanes'
    /// threads at once (a hairpinned packet goes back out the interface it came from), so it must be thread-safe.
    /// </summary>
    bool Write(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Sends what <see cref="Write"/> queued, for ports that send in batches (<see cref="XdpPort"/>); the router calls it
    /// after each burst. A port that sends inside <see cref="Write"/> (a TUN) has nothing to do.
    /// </summary>
    void Flush()
    {
    }
}
