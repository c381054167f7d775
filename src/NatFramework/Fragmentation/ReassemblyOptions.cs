namespace NatFramework.Fragmentation;

/// <summary>Bounds on what an <see cref="Ipv4Reassembler"/> may hold, so that endless incomplete fragments cannot grow memory.</summary>
public sealed class ReassemblyOptions
{
    /// <summary>The most bytes of buffers held for incomplete datagrams (default 4 MiB).</summary>
    public long MaxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most incomplete datagrams held at once (default 256).</summary>
    public int MaxDatagrams { get; set; } = 256;

    /// <summary>How long an incomplete datagram is kept after its first fragment (default 30 s; RFC 791 suggests 15 s minimum).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws when an option is out of range, saying which and why.</summary>
    public void Validate()
    {
        if (MaxBytes < 65_536 + 64)
            throw new ArgumentOutOfRangeException(nameof(MaxBytes), MaxBytes, "MaxBytes must hold at least one maximum-size datagram (65,600 bytes).");
        if (MaxDatagrams < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxDatagrams), MaxDatagrams, "MaxDatagrams must be at least 1.");
        if (Timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Timeout must be positive.");
    }
}
