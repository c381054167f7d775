using System.Runtime.InteropServices;

namespace NatFramework;

/// <summary>Which way a packet travels relative to the connection's first packet.</summary>
public enum FlowDirection : byte
{
    /// <summary>The direction of the packet that created the connection.</summary>
    Outbound = 0,
    /// <summary>The opposite direction: replies.</summary>
    Reply = 1,
}

/// <summary>
/// Per-connection flags: the kind of connection and, for TCP, what the translator has seen of it (RFC 5382, RFC 7857).
/// Stores persist them unchanged; the one they interpret is <see cref="TcpTransitory"/>, which selects the connection's
/// idle timeout (see <see cref="ExpiryCutoffs"/>) and makes it the first to go when a full table needs room.
/// </summary>
/// <remarks>
/// The TCP bits say what has <i>not</i> happened yet or what ended it, so a connection without them is established: a
/// connection picked up mid-stream, and every connection written before state tracking existed, counts as established.
/// The translator sets them through <see cref="Translation.TcpStateTracker"/>, which keeps <see cref="TcpTransitory"/>
/// consistent with the others.
/// </remarks>
[Flags]
public enum NatConnectionFlags : byte
{
    /// <summary>A source-NAT connection.</summary>
    None = 0,
    /// <summary>Created by a Redirect (destination NAT / port forward) rather than a NAT.</summary>
    Redirect = 0x01,
    /// <summary>TCP: opened by a SYN whose answering SYN has not been seen yet (the handshake is incomplete).</summary>
    TcpAwaitingSynReply = 0x02,
    /// <summary>TCP: a FIN was seen in the outbound direction.</summary>
    TcpFinOutbound = 0x04,
    /// <summary>TCP: a FIN was seen in the reply direction.</summary>
    TcpFinReply = 0x08,
    /// <summary>TCP: a RST was seen. The connection is kept for the transitory timeout (RFC 7857 §2.2), so a forged RST cannot free a live mapping.</summary>
    TcpReset = 0x10,
    /// <summary>
    /// TCP: the connection is transitory — before its handshake completed, after FINs both ways, or after a RST — and
    /// expires after the transitory idle timeout (RFC 5382 REQ-5: at least 4 minutes) instead of the established one.
    /// </summary>
    TcpTransitory = 0x20,
    /// <summary>
    /// The connection belongs to the endpoint-independent mapping of its inside endpoint (RFC 4787 REQ-1): every such
    /// connection of one inside endpoint (<c>Outbound</c>'s source address and port, or ICMP identifier) has the same
    /// public endpoint (<c>Translated</c>'s source), and no other inside endpoint's mapped connections use that public
    /// endpoint. A store keeps the mapping while any of its connections lives (see <see cref="INatStore.TryFindMapping"/>).
    /// </summary>
    EndpointMapped = 0x40,
}

/// <summary>
/// One NAT connection, both directions in one value. The first packet's flow <see cref="Outbound"/> is
/// rewritten to <see cref="Translated"/>; a reply arrives as <c>Translated.Reversed</c> and is rewritten to
/// <c>Outbound.Reversed</c>. So a store holds one record and answers lookups of two keys
/// (<see cref="OutboundKey"/> and <see cref="ReplyKey"/>), which is how both directions live and die together.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
public readonly struct NatConnection : IEquatable<NatConnection>
{
    /// <summary>The first packet's flow, as it arrived.</summary>
    public readonly FlowKey Outbound;
    /// <summary>What the first packet's flow becomes after translation.</summary>
    public readonly FlowKey Translated;
    /// <summary>When the connection last carried traffic, in milliseconds of the translator's clock (Unix epoch based).</summary>
    public readonly long LastSeen;
    /// <summary>Flags such as <see cref="NatConnectionFlags.Redirect"/>.</summary>
    public readonly NatConnectionFlags Flags;

    /// <summary>Creates a connection record.</summary>
    /// <param name="outbound">The flow of outbound packets as the inside host sends them.</param>
    /// <param name="translated">What outbound packets become.</param>
    /// <param name="lastSeen">The last-seen time, in the translator clock's milliseconds.</param>
    /// <param name="flags">The TCP state flags.</param>
    public NatConnection(FlowKey outbound, FlowKey translated, long lastSeen, NatConnectionFlags flags = NatConnectionFlags.None)
    {
        Outbound = outbound;
        Translated = translated;
        LastSeen = lastSeen;
        Flags = flags;
    }

    /// <summary>The protocol.</summary>
    public NatProtocol Protocol => Outbound.Protocol;

    /// <summary>The key under which outbound packets are looked up.</summary>
    public FlowKey OutboundKey => Outbound;

    /// <summary>The key under which replies are looked up.</summary>
    public FlowKey ReplyKey => Translated.Reversed;

    /// <summary>True for a Redirect (port-forward) connection.</summary>
    public bool IsRedirect => (Flags & NatConnectionFlags.Redirect) != 0;

    /// <summary>True for a TCP connection in a transitory state (see <see cref="NatConnectionFlags.TcpTransitory"/>).</summary>
    public bool IsTransitory => (Flags & NatConnectionFlags.TcpTransitory) != 0;

    /// <summary>The public port or ICMP identifier the NAT allocated for this connection.</summary>
    public ushort AllocatedPort => Translated.SourcePort;

    /// <summary>The flow a packet travelling in <paramref name="direction"/> is rewritten to.</summary>
    /// <param name="direction">The direction.</param>
    /// <returns>The flow a packet in that direction becomes.</returns>
    public FlowKey RewriteFor(FlowDirection direction) => direction == FlowDirection.Outbound ? Translated : Outbound.Reversed;

    /// <summary>
    /// The host on the inside of the NAT, whose connections <c>RemoveConnections</c> removes: the sender of a NAT
    /// connection's first packet, or the target a Redirect delivers to. (One host per connection keeps host indexes
    /// small; the far end and the NAT's own addresses are not "the host of" a connection.)
    /// </summary>
    public Ipv4Address InsideHost => IsRedirect ? Translated.Destination : Outbound.Source;

    /// <summary>True when <paramref name="host"/> is the connection's <see cref="InsideHost"/>.</summary>
    /// <param name="host">The host.</param>
    /// <returns>True when the host is the connection's inside host.</returns>
    public bool Involves(Ipv4Address host) => InsideHost == host;

    /// <summary>The same connection with another last-seen time.</summary>
    /// <param name="lastSeen">The last-seen time, in the translator clock's milliseconds.</param>
    /// <returns>A copy last seen at the given time.</returns>
    public NatConnection WithLastSeen(long lastSeen) => new(Outbound, Translated, lastSeen, Flags);

    /// <summary>The same connection with other flags (a new TCP state) and last-seen time.</summary>
    /// <param name="flags">The TCP state flags.</param>
    /// <param name="lastSeen">The last-seen time, in the translator clock's milliseconds.</param>
    /// <returns>A copy with the TCP state and last-seen time.</returns>
    public NatConnection WithState(NatConnectionFlags flags, long lastSeen) => new(Outbound, Translated, lastSeen, flags);

    /// <summary>True when both records describe the same mapping (last-seen time and TCP state ignored).</summary>
    /// <param name="other">The other connection.</param>
    /// <returns>True when both translate the same flows the same way (only the times and states differ).</returns>
    public bool SameMapping(in NatConnection other) => Outbound.Equals(other.Outbound) && Translated.Equals(other.Translated) && IsRedirect == other.IsRedirect;

    /// <inheritdoc/>
    public bool Equals(NatConnection other) => SameMapping(other) && LastSeen == other.LastSeen && Flags == other.Flags;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NatConnection other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Outbound, Translated, LastSeen, Flags);

    /// <summary>Equality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator ==(NatConnection left, NatConnection right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator !=(NatConnection left, NatConnection right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => $"{Outbound} => {Translated}{(IsRedirect ? " (redirect)" : "")}";
}

/// <summary>A store's answer to a lookup: the connection a key belongs to and which direction the key is. <c>default</c> is "not found".</summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
public readonly struct NatLookup
{
    /// <summary>The connection.</summary>
    public readonly NatConnection Connection;
    /// <summary>Which of the connection's two keys matched.</summary>
    public readonly FlowDirection Direction;

    /// <summary>Creates a lookup answer.</summary>
    /// <param name="connection">The connection.</param>
    /// <param name="direction">The direction.</param>
    public NatLookup(in NatConnection connection, FlowDirection direction)
    {
        Connection = connection;
        Direction = direction;
    }

    /// <summary>True when a connection was found (a real connection always has a protocol).</summary>
    public bool Found => Connection.Outbound.Protocol != 0;

    /// <summary>The flow the looked-up packet is rewritten to.</summary>
    public FlowKey Rewrite => Connection.RewriteFor(Direction);
}
