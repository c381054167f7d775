namespace NatFramework.Stores.LiteDb;

/// <summary>Settings of a <see cref="LiteDbNatStore"/>.</summary>
public sealed class LiteDbStoreOptions
{
    /// <summary>The database file. Required; its folder must exist. A file that is not a NAT table is never written to.</summary>
    public string Path { get; set; } = "";

    /// <summary>
    /// How long the background writer gathers changes into a batch (default 20 ms): a batch starts once its oldest
    /// acknowledged insert is this old (or at once when it is as large as can be written in time), and changes that only
    /// refresh a connection (last-seen times, TCP states) wait a whole interval. See <see cref="DurabilityWindow"/> for the
    /// bound on what a crash can lose.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The most a crash may lose without <see cref="Durable"/>: connections acknowledged within this time before the crash
    /// (default 250 ms). Held at any rate of adds by backpressure: the writer measures how fast it commits and sizes its
    /// batches to finish within a third of the window, copies LiteDB's log into the data file itself between batches
    /// (acknowledging nothing meanwhile), and when it is behind (or failing), an add waits for it and, if it does not catch
    /// up within the window, answers <c>StoreUnavailable</c> rather than acknowledging a connection it could lose. A writer
    /// whose machine stops running it for longer than the window's margin after acknowledgements were given (the disk not
    /// answering, the process descheduled) holds them for that long, which backpressure cannot shorten;
    /// <see cref="Durable"/> is the bound that holds through that too.
    /// </summary>
    public TimeSpan DurabilityWindow { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Write every insert and removal to disk before returning, so every <c>Ok</c> is durable (slower: a journal flush each).</summary>
    public bool Durable { get; set; }

    /// <summary>The most TCP connections held (default <see cref="NatDefaults.TcpCapacity"/>); beyond it an add answers <c>TableFull</c>.</summary>
    public int TcpCapacity { get; set; } = NatDefaults.TcpCapacity;

    /// <summary>The most UDP connections held (default <see cref="NatDefaults.UdpCapacity"/>).</summary>
    public int UdpCapacity { get; set; } = NatDefaults.UdpCapacity;

    /// <summary>The most ICMP query connections held (default <see cref="NatDefaults.IcmpCapacity"/>).</summary>
    public int IcmpCapacity { get; set; } = NatDefaults.IcmpCapacity;

    /// <summary>
    /// The idle timeouts used to drop connections that expired while the store was closed (default: the RFC values,
    /// as <see cref="NatOptions"/>'s defaults). Use the translator's timeouts.
    /// </summary>
    public NatTimeouts? ExpireOnOpen { get; set; } = new NatOptions().Timeouts;

    /// <summary>
    /// When the file is not a readable NAT table, move it aside unchanged (to <c>&lt;path&gt;.corrupt-&lt;time&gt;</c>, its LiteDB
    /// log beside it) and start an empty table instead of failing. Off by default: a table is never silently replaced.
    /// A file the store may not read or write is a permission problem and is never moved.
    /// </summary>
    public bool MoveAsideCorruptFile { get; set; }

    /// <summary>The clock used on open to decide what expired (tests pass a fake one).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The capacity for <paramref name="protocol"/>.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The capacity.</returns>
    public int CapacityFor(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => TcpCapacity,
        NatProtocol.Udp => UdpCapacity,
        _ => IcmpCapacity,
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting to fix.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
            throw new ArgumentException("Path is required: the LiteDB file that holds the NAT table.", nameof(Path));
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (folder is null || !Directory.Exists(folder))
            throw new ArgumentException($"The folder of Path '{Path}' does not exist; create it first.", nameof(Path));
        if (DurabilityWindow < TimeSpan.FromMilliseconds(20) || DurabilityWindow > TimeSpan.FromSeconds(60))
            throw new ArgumentOutOfRangeException(nameof(DurabilityWindow), DurabilityWindow, "DurabilityWindow must be 20 ms – 60 s.");
        if (FlushInterval <= TimeSpan.Zero || FlushInterval > DurabilityWindow / 2)
            throw new ArgumentOutOfRangeException(nameof(FlushInterval), FlushInterval,
                $"FlushInterval must be positive and at most half the DurabilityWindow ({DurabilityWindow.TotalMilliseconds} ms), so a batch has time to be written.");
        CheckCapacity(TcpCapacity, nameof(TcpCapacity));
        CheckCapacity(UdpCapacity, nameof(UdpCapacity));
        CheckCapacity(IcmpCapacity, nameof(IcmpCapacity));
    }

    private static void CheckCapacity(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }
}
