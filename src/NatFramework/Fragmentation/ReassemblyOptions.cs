namespace NatFramework.Fragmentation;

/// <summary>
/// Bounds on what an <see cref="Ipv4Reassembler"/> may hold and do, so that endless incomplete fragments cannot grow
/// memory and tiny fragments cannot buy unbounded work.
/// </summary>
public sealed class ReassemblyOptions
{
    /// <summary>The most bytes of buffers held for incomplete datagrams (default 4 MiB).</summary>
    public long MaxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most incomplete datagrams held at once (default 256).</summary>
    public int MaxDatagrams { get; set; } = 256;

    /// <summary>
    /// The most incomplete datagrams of one source address held at once (default 64). A source that starts more has its
    /// own oldest datagram dropped, so one sender (or a forger of its address) cannot push everyone else's datagrams out.
    /// </summary>
    public int MaxDatagramsPerSource { get; set; } = 64;

    /// <summary>
    /// The most fragments one datagram may arrive in (default 64, as Linux's <c>ipfrag_max_dist</c>). A datagram cut
    /// finer is discarded whole and counted (<see cref="Packets.PacketError.TooManyFragments"/>): a full-size datagram
    /// in 8-byte fragments would otherwise be 8,192 of them. 64 carry a 64 KiB datagram over any MTU from 1,044 bytes up.
    /// </summary>
    public int MaxFragmentsPerDatagram { get; set; } = 64;

    /// <summary>How long an incomplete datagram is kept after its first fragment (default 30 s; RFC 791 suggests 15 s minimum).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws when an option is out of range, saying which and why.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A bound is out of range; the message names it.</exception>
    public void Validate()
    {
        if (MaxBytes < 65_536 + 64)
            throw new ArgumentOutOfRangeException(nameof(MaxBytes), MaxBytes, "MaxBytes must hold at least one maximum-size datagram (65,600 bytes).");
        if (MaxDatagrams < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxDatagrams), MaxDatagrams, "MaxDatagrams must be at least 1.");
        if (MaxDatagramsPerSource < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxDatagramsPerSource), MaxDatagramsPerSource, "MaxDatagramsPerSource must be at least 1.");
        if (MaxFragmentsPerDatagram is < 2 or > 8192)
            throw new ArgumentOutOfRangeException(nameof(MaxFragmentsPerDatagram), MaxFragmentsPerDatagram,
                "MaxFragmentsPerDatagram must be 2–8,192 (a datagram is at least two fragments; 8,192 eight-byte fragments make 64 KiB).");
        if (Timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Timeout must be positive.");
    }
}
