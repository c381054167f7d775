namespace NatFramework;

/// <summary>Chooses the public port (or ICMP identifier) for a new connection.</summary>
public interface IPortAllocator
{
    /// <summary>
    /// The candidate for attempt <paramref name="attempt"/> (0, 1, …) of mapping <paramref name="outbound"/>.
    /// The translator tries candidates until one is free or the attempts run out; return false to stop early.
    /// Must be thread-safe.
    /// </summary>
    bool TryGetCandidate(in FlowKey outbound, int attempt, out ushort port);
}

/// <summary>Port allocators.</summary>
public static class PortAllocator
{
    /// <summary>Always the same port (mirage-nat's <c>fun () -> Some p</c>); for tests and static forwards.</summary>
    public static IPortAllocator Fixed(ushort port) => new FixedPortAllocator(port);

    /// <summary>The default: random over the range (RFC 6056), keeping the source port first when asked (RFC 4787 REQ-3).</summary>
    public static IPortAllocator Random(int rangeStart = 1024, int rangeEnd = 65535, bool preservePorts = true)
        => new RandomPortAllocator(rangeStart, rangeEnd, preservePorts);

    /// <summary>The allocator described by <paramref name="options"/>.</summary>
    public static IPortAllocator FromOptions(NatOptions options) => Random(options.PortRangeStart, options.PortRangeEnd, options.PreservePorts);

    private sealed class FixedPortAllocator(ushort port) : IPortAllocator
    {
        public bool TryGetCandidate(in FlowKey outbound, int attempt, out ushort candidate)
        {
            candidate = port;
            return true;
        }
    }
}

/// <summary>
/// RFC 6056 §3.3.1 (Algorithm 1, "simple port randomization"): each candidate is drawn uniformly from the
/// range by a generator seeded from the operating system's entropy, so ports are never sequential and an
/// off-path attacker cannot predict them. With port preservation (RFC 4787 REQ-3) the first candidate is the
/// source port itself when it lies in the range.
/// </summary>
public sealed class RandomPortAllocator : IPortAllocator
{
    private readonly int _start;
    private readonly int _count;
    private readonly bool _preserve;

    /// <summary>Creates an allocator over <c>[rangeStart, rangeEnd]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or outside 1–65535.</exception>
    public RandomPortAllocator(int rangeStart, int rangeEnd, bool preservePorts)
    {
        if (rangeStart is < 1 or > 65535 || rangeEnd is < 1 or > 65535 || rangeEnd < rangeStart)
            throw new ArgumentOutOfRangeException(nameof(rangeStart), $"The port range {rangeStart}–{rangeEnd} must be non-empty and within 1–65535.");
        _start = rangeStart;
        _count = rangeEnd - rangeStart + 1;
        _preserve = preservePorts;
    }

    /// <inheritdoc/>
    public bool TryGetCandidate(in FlowKey outbound, int attempt, out ushort port)
    {
        if (attempt == 0 && _preserve && outbound.SourcePort >= _start && outbound.SourcePort < _start + _count)
        {
            port = outbound.SourcePort;
            return true;
        }
        port = (ushort)(_start + System.Random.Shared.Next(_count));
        return true;
    }
}
