namespace NatFramework.Stores.LiteDb;

/// <summary>Settings of a <see cref="LiteDbNatStore"/>.</summary>
public sealed class LiteDbStoreOptions
{
    /// <summary>The database file. Required; its folder must exist.</summary>
    public string Path { get; set; } = "";

    /// <summary>
    /// How often the background writer commits what changed (default 100 ms): the durability window. A crash loses
    /// at most the changes of the last window, never half a connection.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Write every insert and removal to disk before returning, so every <c>Ok</c> is durable (slower: a journal flush each).</summary>
    public bool Durable { get; set; }

    /// <summary>
    /// The idle timeouts used to drop connections that expired while the store was closed (default: the RFC values,
    /// as <see cref="NatOptions"/>'s defaults). Use the translator's timeouts.
    /// </summary>
    public NatTimeouts? ExpireOnOpen { get; set; } = new NatOptions().Timeouts;

    /// <summary>
    /// When the file cannot be read as a NAT table, move it aside (to <c>&lt;path&gt;.corrupt-&lt;time&gt;</c>) and start an
    /// empty table instead of failing. Off by default: a table is never silently replaced.
    /// </summary>
    public bool MoveAsideCorruptFile { get; set; }

    /// <summary>The clock used on open to decide what expired (tests pass a fake one).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the setting to fix.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
            throw new ArgumentException("Path is required: the LiteDB file that holds the NAT table.", nameof(Path));
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (folder is null || !Directory.Exists(folder))
            throw new ArgumentException($"The folder of Path '{Path}' does not exist; create it first.", nameof(Path));
        if (FlushInterval <= TimeSpan.Zero || FlushInterval > TimeSpan.FromSeconds(10))
            throw new ArgumentOutOfRangeException(nameof(FlushInterval), FlushInterval, "FlushInterval must be positive and at most 10 s.");
    }
}
