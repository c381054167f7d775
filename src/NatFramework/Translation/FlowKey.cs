using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NatFramework.Packets;

namespace NatFramework;

/// <summary>
/// One direction of a flow as it appears on the wire: protocol, source and destination addresses and
/// ports. For ICMP queries both port fields hold the query identifier, so that <see cref="Reversed"/>
/// (the key of the reply) works the same for every protocol. Sixteen bytes, unmanaged.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public readonly struct FlowKey : IEquatable<FlowKey>
{
    /// <summary>The source address.</summary>
    public readonly Ipv4Address Source;
    /// <summary>The destination address.</summary>
    public readonly Ipv4Address Destination;
    /// <summary>The source port, or the ICMP query identifier.</summary>
    public readonly ushort SourcePort;
    /// <summary>The destination port, or the ICMP query identifier.</summary>
    public readonly ushort DestinationPort;
    /// <summary>The protocol.</summary>
    public readonly NatProtocol Protocol;

    /// <summary>Creates a key. For <see cref="NatProtocol.Icmp"/> use <see cref="Icmp"/>.</summary>
    /// <param name="protocol">The protocol.</param>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    public FlowKey(NatProtocol protocol, Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort)
    {
        Protocol = protocol;
        Source = source;
        Destination = destination;
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
    }

    /// <summary>A TCP key.</summary>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <returns>The key.</returns>
    public static FlowKey Tcp(Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort)
        => new(NatProtocol.Tcp, source, sourcePort, destination, destinationPort);

    /// <summary>A UDP key.</summary>
    /// <param name="source">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    /// <returns>The key.</returns>
    public static FlowKey Udp(Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort)
        => new(NatProtocol.Udp, source, sourcePort, destination, destinationPort);

    /// <summary>An ICMP query key (both port fields carry the identifier).</summary>
    /// <param name="source">The source address.</param>
    /// <param name="destination">The destination address.</param>
    /// <param name="identifier">The ICMP query identifier.</param>
    /// <returns>The key.</returns>
    public static FlowKey Icmp(Ipv4Address source, Ipv4Address destination, ushort identifier)
        => new(NatProtocol.Icmp, source, identifier, destination, identifier);

    /// <summary>The ICMP identifier (same as <see cref="SourcePort"/>).</summary>
    public ushort Identifier => SourcePort;

    /// <summary>The key of the opposite direction: addresses and ports swapped.</summary>
    public FlowKey Reversed => new(Protocol, Destination, DestinationPort, Source, SourcePort);

    /// <summary>The same key with another source address and port.</summary>
    /// <param name="source">The source address.</param>
    /// <param name="port">The port (ICMP: the identifier).</param>
    /// <returns>The key with the source replaced.</returns>
    public FlowKey WithSource(Ipv4Address source, ushort port)
        => Protocol == NatProtocol.Icmp ? Icmp(source, Destination, port) : new(Protocol, source, port, Destination, DestinationPort);

    /// <summary>The same key with another destination address and port.</summary>
    /// <param name="destination">The destination address.</param>
    /// <param name="port">The port (ICMP: the identifier).</param>
    /// <returns>The key with the destination replaced.</returns>
    public FlowKey WithDestination(Ipv4Address destination, ushort port)
        => Protocol == NatProtocol.Icmp ? Icmp(Source, destination, port) : new(Protocol, Source, SourcePort, destination, port);

    /// <summary>
    /// Reads the key of a whole TCP, UDP or ICMP-query datagram. Returns false for fragments,
    /// other protocols and ICMP messages that are not queries.
    /// </summary>
    /// <param name="packet">The parsed datagram.</param>
    /// <param name="key">The flow key, or default.</param>
    /// <returns>True when the packet has a flow a translator can key (TCP, UDP, ICMP query).</returns>
    public static bool TryRead(in Ipv4Packet packet, out FlowKey key)
    {
        if (!packet.IsFragment)
        {
            switch (packet.Protocol)
            {
                case IpProtocol.Tcp:
                    var tcp = packet.Tcp;
                    key = new(NatProtocol.Tcp, packet.Source, tcp.SourcePort, packet.Destination, tcp.DestinationPort);
                    return true;
                case IpProtocol.Udp:
                    var udp = packet.Udp;
                    key = new(NatProtocol.Udp, packet.Source, udp.SourcePort, packet.Destination, udp.DestinationPort);
                    return true;
                case IpProtocol.Icmp:
                    var icmp = packet.Icmp;
                    if (icmp.IsQuery)
                    {
                        key = Icmp(packet.Source, packet.Destination, icmp.Identifier);
                        return true;
                    }
                    break;
            }
        }
        key = default;
        return false;
    }

    /// <summary>The length of the binary form written by <see cref="WriteTo"/>: 13 bytes.</summary>
    public const int EncodedLength = 13;

    /// <summary>
    /// Writes the key's stable binary form for stores that persist keys: protocol, source address, source port,
    /// destination address, destination port, in network byte order (13 bytes).
    /// </summary>
    /// <param name="destination">Where the key is written (at least its size in bytes).</param>
    public void WriteTo(Span<byte> destination)
    {
        destination[0] = (byte)Protocol;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(destination[1..], Source.Value);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[5..], SourcePort);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(destination[7..], Destination.Value);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[11..], DestinationPort);
    }

    /// <summary>Reads the binary form written by <see cref="WriteTo"/>.</summary>
    /// <param name="source">The bytes written by Write.</param>
    /// <returns>The key stored in the first bytes.</returns>
    public static FlowKey Read(ReadOnlySpan<byte> source) => new(
        (NatProtocol)source[0],
        new Ipv4Address(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(source[1..])), System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(source[5..]),
        new Ipv4Address(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(source[7..])), System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(source[11..]));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(FlowKey other) => Source.Value == other.Source.Value && Destination.Value == other.Destination.Value
        && PortsValue == other.PortsValue && Protocol == other.Protocol;

    private uint PortsValue => (uint)SourcePort << 16 | DestinationPort;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is FlowKey other && Equals(other);

    /// <summary>A well-mixed 64-bit hash, for stores that build their own tables. The same as <c>Hash64(0)</c>.</summary>
    /// <returns>A 64-bit hash of the key.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Hash64() => Hash64(0);

    /// <summary>
    /// A well-mixed 64-bit hash keyed by <paramref name="seed"/>. A table keyed by a secret random seed does not let
    /// whoever chooses flows (an inside host picking ports and destinations) precompute keys that pile up in one
    /// place: which keys collide changes with the seed. Not a cryptographic MAC; a defence against precomputed
    /// collisions, as in language runtimes' randomised string hashing.
    /// </summary>
    /// <param name="seed">A seed mixed into the hash.</param>
    /// <returns>A 64-bit hash of the key.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Hash64(ulong seed)
    {
        // Two multiply-xorshift rounds (a variant of the splitmix64 finaliser) over the 13 meaningful bytes, the seed
        // mixed in before the multiplications, whose carries make the collisions depend on it.
        ulong a = ((ulong)Source.Value << 32 | Destination.Value) ^ seed;
        ulong b = ((ulong)PortsValue << 8 | (byte)Protocol) ^ System.Numerics.BitOperations.RotateLeft(seed, 29);
        ulong h = a * 0x9E3779B97F4A7C15UL ^ b * 0xC2B2AE3D27D4EB4FUL;
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 29;
        return h;
    }

    /// <inheritdoc/>
    public override int GetHashCode() => (int)Hash64();

    /// <summary>Equality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator ==(FlowKey left, FlowKey right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">The left operand.</param>
    /// <param name="right">The right operand.</param>
    public static bool operator !=(FlowKey left, FlowKey right) => !left.Equals(right);

    /// <summary>For example <c>udp 10.0.0.2:5353 -> 192.0.2.1:53</c>.</summary>
    /// <returns>The flow as text, e.g. <c>udp 10.77.0.2:4000 -> 198.51.100.2:53</c>.</returns>
    public override string ToString() => Protocol == NatProtocol.Icmp
        ? $"icmp {Source} -> {Destination} id {Identifier}"
        : $"{Protocol.ToString().ToLowerInvariant()} {Source}:{SourcePort} -> {Destination}:{DestinationPort}";
}
