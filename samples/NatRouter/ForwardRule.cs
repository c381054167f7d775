using NatFramework;

namespace NatRouter;

/// <summary>A port forward: traffic to the public address on <see cref="PublicPort"/> goes to <see cref="Target"/>:<see cref="TargetPort"/>.</summary>
/// <param name="Protocol">TCP or UDP.</param>
/// <param name="PublicPort">The port on the public address.</param>
/// <param name="Target">The inside host.</param>
/// <param name="TargetPort">The port on the inside host.</param>
public sealed record ForwardRule(NatProtocol Protocol, ushort PublicPort, Ipv4Address Target, ushort TargetPort)
{
    /// <summary>Parses <c>tcp:8080=10.77.0.2:80</c>.</summary>
    public static bool TryParse(string text, out ForwardRule? rule)
    {
        rule = null;
        var parts = text.Split(':', '=');
        if (parts.Length != 4) return false;
        NatProtocol? protocol = parts[0].ToLowerInvariant() switch { "tcp" => NatProtocol.Tcp, "udp" => NatProtocol.Udp, _ => null };
        if (protocol is null || !ushort.TryParse(parts[1], out var publicPort) || !Ipv4Address.TryParse(parts[2], out var target)
            || !ushort.TryParse(parts[3], out var targetPort) || publicPort == 0 || targetPort == 0) return false;
        rule = new ForwardRule(protocol.Value, publicPort, target, targetPort);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()}:{PublicPort}={Target}:{TargetPort}";
}
