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

/// <summary>Per-connection flags. Stores persist them unchanged and never interpret them.</summary>
[Flags]
public enum NatConnectionFlags : byte
{
    /// <summary>A source-NAT connection.</summary>
    None = 0,
    /// <summary>Created by a Redirect (destination NAT / port forward) rather than a NAT.</summary>
    Redirect = 0x01,
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

    /// <summary>The public port or ICMP identifier the NAT allocated for this connection.</summary>
    public ushort AllocatedPort => Translated.SourcePort;

    /// <summary>The flow a packet travelling in <paramref name="direction"/> is rewritten to.</summary>
    public FlowKey RewriteFor(FlowDirection direction) => direction == FlowDirection.Outbound ? Translated : Outbound.Reversed;

    /// <summary>
    /// The host on the inside of the NAT, whose connections <c>RemoveConnections</c> removes: the sender of a NAT
    /// connection's first packet, or the target a Redirect delivers to. (One host per connection keeps host indexes
    /// small; the far end and the NAT's own addresses are not "the host of" a connection.)
    /// </summary>
    public Ipv4Address InsideHost => IsRedirect ? Translated.Destination : Outbound.Source;

    /// <summary>True when <paramref name="host"/> is the connection's <see cref="InsideHost"/>.</summary>
    public bool Involves(Ipv4Address host) => InsideHost == host;

    /// <summary>The same connection with another last-seen time.</summary>
    public NatConnection WithLastSeen(long lastSeen) => new(Outbound, Translated, lastSeen, Flags);

    /// <summary>True when both records describe the same mapping (last-seen time ignored).</summary>
    public bool SameMapping(in NatConnection other) => Outbound.Equals(other.Outbound) && Translated.Equals(other.Translated) && Flags == other.Flags;

    /// <inheritdoc/>
    public bool Equals(NatConnection other) => SameMapping(other) && LastSeen == other.LastSeen;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NatConnection other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Outbound, Translated, LastSeen, Flags);

    /// <summary>Equality.</summary>
    public static bool operator ==(NatConnection left, NatConnection right) => left.Equals(right);

    /// <summary>Inequality.</summary>
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
