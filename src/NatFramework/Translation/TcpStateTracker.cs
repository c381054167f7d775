namespace NatFramework.Translation;

/// <summary>
/// What a NAT needs to know of a TCP connection's state (RFC 5382 REQ-5, RFC 7857 §2.1–2.2, after Linux conntrack's
/// states, simplified): whether the handshake completed, which directions have sent a FIN, and whether a RST was seen.
/// A connection is <i>transitory</i> — idle timeout 240 s by default instead of 7440 s, and first to go when a full table
/// needs room — before its handshake completed, after FINs in both directions, and after a RST; otherwise established
/// (a FIN in one direction only leaves a half-closed connection established: it may carry data for long).
/// </summary>
/// <remarks>
/// Only packets with SYN, FIN or RST change the state, so an established flow's packets never need the connection's
/// state (<see cref="MayChangeState"/>): the translator looks at it only for those. A RST does not end the connection at
/// once (RFC 7857 §2.2): it stays, transitory, so that a forged RST cannot hand its mapping to someone else.
/// </remarks>
public static class TcpStateTracker
{
    /// <summary>The FIN bit of the TCP flags byte.</summary>
    public const byte Fin = 0x01;
    /// <summary>The SYN bit.</summary>
    public const byte Syn = 0x02;
    /// <summary>The RST bit.</summary>
    public const byte Rst = 0x04;
    /// <summary>The ACK bit.</summary>
    public const byte Ack = 0x10;

    private const NatConnectionFlags TcpBits = NatConnectionFlags.TcpAwaitingSynReply | NatConnectionFlags.TcpFinOutbound
        | NatConnectionFlags.TcpFinReply | NatConnectionFlags.TcpReset | NatConnectionFlags.TcpTransitory;
    private const NatConnectionFlags BothFins = NatConnectionFlags.TcpFinOutbound | NatConnectionFlags.TcpFinReply;

    /// <summary>True when a packet with <paramref name="tcpFlags"/> may change a connection's state.</summary>
    /// <param name="tcpFlags">The TCP flags byte of the segment.</param>
    /// <returns>True when the segment carries SYN, FIN or RST.</returns>
    public static bool MayChangeState(byte tcpFlags) => (tcpFlags & (Fin | Syn | Rst)) != 0;

    /// <summary>
    /// The state of a connection opened by a packet with <paramref name="tcpFlags"/>; false for a RST, which opens
    /// nothing. A SYN opens a transitory connection awaiting its answer; any other packet picks up an established one
    /// (a connection whose start the NAT did not see, as after a restart).
    /// </summary>
    /// <param name="tcpFlags">The TCP flags byte of the segment.</param>
    /// <param name="state">The state of the new connection.</param>
    /// <returns>True when the segment may open a connection (a SYN without ACK).</returns>
    public static bool TryOpen(byte tcpFlags, out NatConnectionFlags state)
    {
        if ((tcpFlags & Rst) != 0)
        {
            state = NatConnectionFlags.None;
            return false;
        }
        state = (tcpFlags & (Syn | Ack)) == Syn
            ? NatConnectionFlags.TcpAwaitingSynReply | NatConnectionFlags.TcpTransitory
            : Next(NatConnectionFlags.None, FlowDirection.Outbound, tcpFlags);
        return true;
    }

    /// <summary>
    /// The flags after a packet with <paramref name="tcpFlags"/> travelling in <paramref name="direction"/>; other flags
    /// (<see cref="NatConnectionFlags.Redirect"/>) are kept.
    /// </summary>
    /// <param name="current">The connection's state now.</param>
    /// <param name="direction">The direction of the segment.</param>
    /// <param name="tcpFlags">The TCP flags byte of the segment.</param>
    /// <returns>The state after the segment.</returns>
    public static NatConnectionFlags Next(NatConnectionFlags current, FlowDirection direction, byte tcpFlags)
    {
        var next = current;
        if ((tcpFlags & Rst) != 0)
        {
            next = (current & ~TcpBits) | NatConnectionFlags.TcpReset;
        }
        else if ((tcpFlags & Syn) != 0)
        {
            bool ended = (current & NatConnectionFlags.TcpReset) != 0 || (current & BothFins) == BothFins;
            if ((tcpFlags & Ack) == 0)
            {
                // A new SYN on a closed or reset connection reuses its addresses and ports: the handshake starts over.
                if (ended) next = (current & ~TcpBits) | NatConnectionFlags.TcpAwaitingSynReply;
            }
            else if ((current & NatConnectionFlags.TcpAwaitingSynReply) != 0)
            {
                // A SYN+ACK answers a SYN (also in a simultaneous open): the handshake has been seen both ways.
                next = current & ~NatConnectionFlags.TcpAwaitingSynReply;
            }
        }
        if ((tcpFlags & Fin) != 0 && (next & NatConnectionFlags.TcpReset) == 0)
            next |= direction == FlowDirection.Outbound ? NatConnectionFlags.TcpFinOutbound : NatConnectionFlags.TcpFinReply;
        return WithTransitory(next);
    }

    private static NatConnectionFlags WithTransitory(NatConnectionFlags flags)
    {
        bool transitory = (flags & (NatConnectionFlags.TcpAwaitingSynReply | NatConnectionFlags.TcpReset)) != 0 || (flags & BothFins) == BothFins;
        return transitory ? flags | NatConnectionFlags.TcpTransitory : flags & ~NatConnectionFlags.TcpTransitory;
    }
}
