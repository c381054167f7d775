namespace NatFramework;

/// <summary>Chooses the public port (or ICMP identifier) for a new connection.</summary>
public interface IPortAllocator
{
    /// <summary>
    /// The candidate for attempt <paramref name="attempt"/> (0, 1, …) of mapping <paramref name="outbound"/>.
    /// The translator tries candidates until one is free or the attempts run out; return false to stop early.
    /// Must be thread-safe.
    /// </summary>
    /// <param name="outbound">The outbound flow a port is wanted for.</param>
    /// <param name="attempt">Which candidate: 0 for the first.</param>
    /// <param name="port">The candidate port.</param>
    /// <returns>True with a port to try; false when the allocator has no more for this flow.</returns>
    bool TryGetCandidate(in FlowKey outbound, int attempt, out ushort port);

    /// <summary>
    /// The candidate for attempt <paramref name="attempt"/> among the ports of <paramref name="portClass"/> (a store that
    /// partitions its ports: <see cref="INatPortClasses"/>). By default the allocator's own candidates are drawn again, a
    /// bounded number of times, until one is in the class; an allocator that can draw from a class directly overrides
    /// this. A port outside the class may still come back (a fixed allocator's): the store refuses it.
    /// </summary>
    /// <param name="outbound">The outbound flow a port is wanted for.</param>
    /// <param name="attempt">Which candidate: 0 for the first.</param>
    /// <param name="portClass">The ports the store accepts for this flow.</param>
    /// <param name="port">The candidate port.</param>
    /// <returns>True with a port to try; false when the allocator has no more for this flow.</returns>
    bool TryGetCandidate(in FlowKey outbound, int attempt, PortClass portClass, out ushort port)
    {
        if (!TryGetCandidate(outbound, attempt, out port)) return false;
        for (int draw = 1; draw < 4 * portClass.Modulus && !portClass.Contains(port); draw++)
            if (!TryGetCandidate(outbound, attempt, out port)) return false;
        return true;
    }
}

/// <summary>Port allocators.</summary>
public static class PortAllocator
{
    /// <summary>Always the same port (mirage-nat's <c>fun () -> Some p</c>); for tests and static forwards.</summary>
    /// <param name="port">The only port to offer.</param>
    /// <returns>An allocator that offers only that port.</returns>
    public static IPortAllocator Fixed(ushort port) => new FixedPortAllocator(port);

    /// <summary>
    /// The default: uniformly random over the range from a cryptographic source (RFC 6056 §3.3.1), trying the source port
    /// first only when <paramref name="preservePorts"/> is set.
    /// </summary>
    /// <param name="rangeStart">The first port handed out.</param>
    /// <param name="rangeEnd">The last port handed out.</param>
    /// <param name="preservePorts">Try the source port first (port preservation; predictable, so off by default).</param>
    /// <returns>An allocator drawing from the range with a cryptographic random source.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or outside 1–65535.</exception>
    public static IPortAllocator Random(int rangeStart = 1024, int rangeEnd = 65535, bool preservePorts = false)
        => new RandomPortAllocator(rangeStart, rangeEnd, preservePorts);

    /// <summary>The allocator described by <paramref name="options"/>.</summary>
    /// <param name="options">The settings.</param>
    /// <returns>The allocator the options describe.</returns>
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
/// RFC 6056 §3.3.1 (Algorithm 1, "simple port randomization"): each candidate is drawn uniformly from the range with
/// bits from the operating system's cryptographic random source, so an observer who sees any number of allocated ports
/// learns nothing about the next one (a seeded pseudo-random generator such as <see cref="System.Random"/> can be
/// reconstructed from its outputs). With port preservation (opt-in) the first candidate is the source port itself when
/// it lies in the range; that makes public ports exactly as predictable as the inside hosts' own.
/// </summary>
public sealed class RandomPortAllocator : IPortAllocator
{
    private readonly int _start;
    private readonly int _count;
    private readonly bool _preserve;

    /// <summary>Creates an allocator over <c>[rangeStart, rangeEnd]</c>.</summary>
    /// <param name="rangeStart">The first port handed out.</param>
    /// <param name="rangeEnd">The last port handed out.</param>
    /// <param name="preservePorts">Try the source port first (RFC 4787 §4.2.1 port preservation).</param>
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
        port = (ushort)(_start + SecureRandomBits.UniformBelow(_count));
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>Uniform over the class's ports in the range (the same RFC 6056 draw, over fewer ports); none in the range: no candidate.</remarks>
    public bool TryGetCandidate(in FlowKey outbound, int attempt, PortClass portClass, out ushort port)
    {
        if (portClass.IsAny) return TryGetCandidate(outbound, attempt, out port);
        if (attempt == 0 && _preserve && outbound.SourcePort >= _start && outbound.SourcePort < _start + _count && portClass.Contains(outbound.SourcePort))
        {
            port = outbound.SourcePort;
            return true;
        }
        int count = portClass.CountIn(_start, _start + _count - 1, out int first);
        if (count == 0)
        {
            port = 0;
            return false;
        }
        port = (ushort)(first + portClass.Modulus * SecureRandomBits.UniformBelow(count));
        return true;
    }
}
