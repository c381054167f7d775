namespace NatFramework;

/// <summary>Idle timeouts per protocol.</summary>
/// <param name="Tcp">TCP idle timeout.</param>
/// <param name="Udp">UDP idle timeout.</param>
/// <param name="Icmp">ICMP query idle timeout.</param>
public sealed record NatTimeouts(TimeSpan Tcp, TimeSpan Udp, TimeSpan Icmp)
{
    /// <summary>The timeout of <paramref name="protocol"/>.</summary>
    public TimeSpan For(NatProtocol protocol) => protocol switch
    {
        NatProtocol.Tcp => Tcp,
        NatProtocol.Udp => Udp,
        _ => Icmp,
    };
}
