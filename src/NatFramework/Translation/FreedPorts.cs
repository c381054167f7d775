namespace NatFramework;

/// <summary>The public ports and ICMP identifiers freed by RemoveConnections, per protocol, and the connections removed.</summary>
public sealed class FreedPorts
{
    /// <summary>Creates the summary from removed connections.</summary>
    /// <param name="removed">The connections removed.</param>
    // Fully optimised at once: built rarely, but over every removed connection, which tier-0 code walked slowly. Two
    // passes over a span (count, then fill exactly sized arrays) instead of growing three lists through an enumerator.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public FreedPorts(IReadOnlyList<NatConnection> removed)
    {
        Connections = removed;
        ReadOnlySpan<NatConnection> all = removed is List<NatConnection> list
            ? System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list)
            : removed.ToArray();
        int tcpCount = 0, udpCount = 0;
        foreach (ref readonly var connection in all)
        {
            if (connection.Protocol == NatProtocol.Tcp) tcpCount++;
            else if (connection.Protocol == NatProtocol.Udp) udpCount++;
        }
        var tcp = new ushort[tcpCount];
        var udp = new ushort[udpCount];
        var icmp = new ushort[all.Length - tcpCount - udpCount];
        int t = 0, u = 0, i = 0;
        foreach (ref readonly var connection in all)
        {
            if (connection.Protocol == NatProtocol.Tcp) tcp[t++] = connection.AllocatedPort;
            else if (connection.Protocol == NatProtocol.Udp) udp[u++] = connection.AllocatedPort;
            else icmp[i++] = connection.AllocatedPort;
        }
        Tcp = tcp;
        Udp = udp;
        Icmp = icmp;
    }

    /// <summary>Freed TCP ports.</summary>
    public IReadOnlyList<ushort> Tcp { get; }

    /// <summary>Freed UDP ports.</summary>
    public IReadOnlyList<ushort> Udp { get; }

    /// <summary>Freed ICMP identifiers.</summary>
    public IReadOnlyList<ushort> Icmp { get; }

    /// <summary>The removed connections.</summary>
    public IReadOnlyList<NatConnection> Connections { get; }
}
