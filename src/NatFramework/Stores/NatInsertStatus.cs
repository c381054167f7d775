namespace NatFramework;

/// <summary>What a store did with an insert of both directions of a connection.</summary>
public enum NatInsertStatus : byte
{
    /// <summary>Both keys were free (or held only by expired connections, now replaced); both directions are stored.</summary>
    Inserted,
    /// <summary>
    /// The outbound key belongs to a live connection, returned as <c>existing</c>; nothing was written.
    /// A different port cannot help: the translator decides whether that connection is the one asked for.
    /// </summary>
    OutboundTaken,
    /// <summary>
    /// The reply key belongs to another live connection — or, for a connection flagged
    /// <see cref="NatConnectionFlags.EndpointMapped"/>, its public endpoint belongs to another inside endpoint's live
    /// mapping; nothing was written. Another port may succeed.
    /// </summary>
    ReplyTaken,
    /// <summary>The store is full and cannot make room; nothing was written.</summary>
    TableFull,
    /// <summary>The connection's inside host already has <see cref="NatInsertRules.HostLimit"/> live connections of the protocol; nothing was written.</summary>
    HostLimitReached,
    /// <summary>
    /// The connection is flagged <see cref="NatConnectionFlags.EndpointMapped"/>, and its inside endpoint already has a
    /// live mapping to another public endpoint; one of that mapping's connections is returned as <c>existing</c> (its
    /// <c>Translated</c> source is the public endpoint to use). Nothing was written.
    /// </summary>
    MappingConflict,
}

/// <summary>An asynchronous store's insert answer: the status and, for <see cref="NatInsertStatus.OutboundTaken"/>, the existing connection.</summary>
/// <param name="Status">What the store did.</param>
/// <param name="Existing">The connection holding the outbound key (<see cref="NatInsertStatus.OutboundTaken"/>), or one of the inside endpoint's mapping (<see cref="NatInsertStatus.MappingConflict"/>).</param>
public readonly record struct NatInsertOutcome(NatInsertStatus Status, NatLookup Existing);
