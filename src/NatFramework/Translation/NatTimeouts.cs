namespace NatFramework;

/// <summary>Idle timeouts per protocol, TCP's per state.</summary>
/// <param name="Tcp">Established TCP idle timeout.</param>
/// <param name="Udp">UDP idle timeout.</param>
/// <param name="Icmp">ICMP query idle timeout.</param>
/// <param name="TcpTransitory">Transitory TCP idle timeout (before the handshake completes, after FINs both ways, after a RST).</param>
public sealed record NatTimeouts(TimeSpan Tcp, TimeSpan Udp, TimeSpan Icmp, TimeSpan TcpTransitory)
{
    /// <summary>The timeout of <paramref name="protocol"/>'s established (for TCP) connections.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The idle timeout.</returns>
    public TimeSpan For(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => Tcp,
        NatProtocol.Udp => Udp,
        _ => Icmp,
    };

    /// <summary>The timeout that applies to <paramref name="connection"/>, by its protocol and TCP state.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns>The idle timeout.</returns>
    public TimeSpan For(in NatConnection connection) => connection.IsTransitory ? TcpTransitory : For(connection.Protocol);
}
