using System.Buffers.Binary;
using NatFramework;
using NatFramework.Packets;
using NatFramework.Stores.Lru;

namespace NatRouter;

/// <summary>
/// Runs a short conversation of every kind through a throwaway router (in-memory interfaces, its own small LRU table)
/// before the real one reports ready, so the JIT compiles the packet path then and not while the first real packets
/// wait: without it the first ping through a fresh router took milliseconds (on LiteDB 5 ms, on LRU 1-6 ms). The real
/// store is never touched (a shared Redis table must not see invented connections).
/// </summary>
public static class RouterWarmUp
{
    /// <summary>
    /// Sends TCP, UDP and ICMP out and their replies back, a TTL-1 packet, an oversized DF packet and a fragmented one,
    /// through <paramref name="nat"/> — a throwaway translator of the same type as the real one
    /// (<see cref="StoreChoice.ForWarmUp"/>) — or through a small LRU table when null.
    /// </summary>
    /// <returns>How many packets came out of the router (the caller may check the path works).</returns>
    public static int Run(RouterSettings settings, bool offload, INatTranslator? nat = null)
    {
        nat ??= new LruNatTranslator(new LruNatStore(new LruStoreOptions { TcpCapacity = 64, UdpCapacity = 64, IcmpCapacity = 64 }),
            new NatOptions { PublicAddress = settings.PublicAddress });
        nat.Policy = settings.Policy; // a throwaway translator: it gets the router's policy whatever it had
        var inside = new MemoryPort(offload, capacity: 8);
        var outside = new MemoryPort(offload, capacity: 8);
        using var router = new PacketRouter(nat, settings, inside, outside);
        var client = new Ipv4Address(settings.PrivateNetwork.Network.Value + 2);
        var server = new Ipv4Address(settings.PublicAddress.Value + 1);
        int header = offload ? VirtioNetHeader.Length : 0;
        int delivered = 0;
        for (int round = 0; round < 3; round++)
        {
            ushort port = (ushort)(40000 + round);
            byte[][] outgoing =
            [
                Ipv4PacketBuilder.Tcp(client, port, server, 80, [], TcpFlags.Syn, dontFragment: true),
                Ipv4PacketBuilder.Udp(client, port, server, 53, new byte[32]),
                Ipv4PacketBuilder.EchoRequest(client, server, port, 1, new byte[56]),
            ];
            foreach (var packet in outgoing)
            {
                Send(inside, packet, header);
                router.RunOnce(fromInside: true, 0);
                var translated = outside.TakeWritten();
                if (translated is null) continue;
                delivered++;
                Send(outside, Reply(translated.AsSpan(header)), header);
                router.RunOnce(fromInside: false, 0);
                delivered += inside.WrittenCount;
                inside.DiscardWritten();
            }
        }
        // The side roads: TTL 1, too big with DF, and a datagram in two fragments.
        Send(inside, Ipv4PacketBuilder.Udp(client, 40100, server, 53, new byte[8], ttl: 1), header);
        Send(inside, Ipv4PacketBuilder.Udp(client, 40101, server, 53, new byte[settings.Mtu], dontFragment: true), header);
        var whole = Ipv4PacketBuilder.Udp(client, 40102, server, 53, new byte[64], identification: 7);
        Send(inside, Fragment(whole, 0, 32, more: true), header);
        Send(inside, Fragment(whole, 32, whole.Length - 20 - 32, more: false), header);
        router.RunOnce(fromInside: true, 0);
        delivered += outside.WrittenCount + inside.WrittenCount;
        return delivered;
    }

    private static void Send(MemoryPort port, byte[] packet, int header)
    {
        var frame = new byte[header + packet.Length];
        packet.CopyTo(frame, header);
        port.Inject(frame);
    }

    /// <summary>The answer of the far end to a translated packet: addresses and ports swapped, checksums made anew.</summary>
    private static byte[] Reply(ReadOnlySpan<byte> translated)
    {
        var copy = translated.ToArray();
        Ipv4Packet.TryParse(copy, out var ip);
        var payload = ip.Payload;
        return ip.Protocol switch
        {
            IpProtocol.Tcp => Ipv4PacketBuilder.Tcp(ip.Destination, BinaryPrimitives.ReadUInt16BigEndian(payload[2..]), ip.Source,
                BinaryPrimitives.ReadUInt16BigEndian(payload), [], TcpFlags.Syn | TcpFlags.Ack),
            IpProtocol.Udp => Ipv4PacketBuilder.Udp(ip.Destination, BinaryPrimitives.ReadUInt16BigEndian(payload[2..]), ip.Source,
                BinaryPrimitives.ReadUInt16BigEndian(payload), payload[8..]),
            _ => Ipv4PacketBuilder.EchoReply(ip.Destination, ip.Source, ip.Icmp.Identifier, 1, payload[8..]),
        };
    }

    /// <summary>One fragment of <paramref name="whole"/>: <paramref name="length"/> payload bytes from <paramref name="offset"/> (a multiple of 8).</summary>
    private static byte[] Fragment(byte[] whole, int offset, int length, bool more)
    {
        var fragment = new byte[20 + length];
        whole.AsSpan(0, 20).CopyTo(fragment);
        whole.AsSpan(20 + offset, length).CopyTo(fragment.AsSpan(20));
        BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(2), (ushort)fragment.Length);
        BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(6), (ushort)((more ? 0x2000 : 0) | offset / 8));
        Ipv4Packet.RecomputeHeaderChecksum(fragment.AsSpan(0, 20));
        return fragment;
    }
}
