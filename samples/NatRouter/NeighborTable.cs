namespace NatRouter;

/// <summary>
/// The IPv4 addresses of a link and their MAC addresses (an ARP cache, RFC 826 and RFC 1122 §2.3.2), for a port that
/// writes Ethernet frames itself. A packet for a neighbor not known yet is held (a few per neighbor, a few hundred in
/// all, for a few seconds) while an ARP request is out, and released when the answer is learned; requests are sent at
/// most once a second per neighbor. A known entry older than <see cref="ReachableTime"/> is used on while a request
/// checks it again. The table is bounded: past its capacity the oldest entry goes. Not thread-safe: its port
/// serialises the calls.
/// </summary>
internal sealed class NeighborTable
{
    /// <summary>How long a learned MAC is used before it is asked for again (it stays in use meanwhile).</summary>
    public static readonly TimeSpan ReachableTime = TimeSpan.FromSeconds(60);
    /// <summary>How long a held packet waits for its neighbor's answer.</summary>
    public static readonly TimeSpan HoldTime = TimeSpan.FromSeconds(3);
    private const long RequestIntervalMs = 1000;
    public const int HeldPerNeighbor = 8;
    public const int HeldInAll = 256;

    private readonly Dictionary<uint, Entry> _entries = new();
    private readonly Queue<uint> _age = new();
    private readonly int _capacity;
    private int _held;

    private sealed class Entry
    {
        public ulong Mac;
        public bool Known;
        public long ConfirmedAt;
        public long RequestedAt = long.MinValue / 2;
        public Queue<(byte[] Packet, long At)>? Held;
    }

    /// <summary>What to do with a packet for a neighbor.</summary>
    public enum Step
    {
        /// <summary>Send it to the MAC given.</summary>
        Send,
        /// <summary>Send it to the MAC given, and send an ARP request to check that the neighbor is still there.</summary>
        SendAndRequest,
        /// <summary>It is held until the neighbor answers (or, when too many wait in all, dropped and counted in <see cref="Unresolved"/>).</summary>
        Held,
        /// <summary>It is held (or dropped, as for <see cref="Held"/>); send an ARP request for the neighbor.</summary>
        HeldAndRequest,
    }

    public NeighborTable(int capacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Neighbors in the table (known or being asked for).</summary>
    public int Count => _entries.Count;

    /// <summary>Packets dropped because their neighbor did not answer in time or too many were held.</summary>
    public long Unresolved { get; private set; }

    /// <summary>The MAC known for <paramref name="address"/>, if any.</summary>
    public bool TryGetKnown(uint address, out ulong mac)
    {
        mac = 0;
        if (!_entries.TryGetValue(address, out var entry) || !entry.Known) return false;
        mac = entry.Mac;
        return true;
    }

    /// <summary>Decides about a packet for <paramref name="address"/> at <paramref name="now"/> (milliseconds).</summary>
    public Step Resolve(uint address, ReadOnlySpan<byte> packet, long now, out ulong mac)
    {
        var entry = Find(address, create: true, now)!;
        mac = entry.Mac;
        bool requestDue = now - entry.RequestedAt >= RequestIntervalMs;
        if (entry.Known)
        {
            if (now - entry.ConfirmedAt < (long)ReachableTime.TotalMilliseconds || !requestDue) return Step.Send;
            entry.RequestedAt = now;
            return Step.SendAndRequest;
        }
        Expire(entry, now);
        entry.Held ??= new();
        if (entry.Held.Count == HeldPerNeighbor || _held == HeldInAll)
        {
            // The oldest waiting packet gives way (a neighbor that does not answer should not starve newer traffic).
            if (entry.Held.Count == 0)
            {
                Unresolved++;
                return requestDue ? Request(entry, now, Step.HeldAndRequest) : Step.Held;
            }
            entry.Held.Dequeue();
            _held--;
            Unresolved++;
        }
        entry.Held.Enqueue((packet.ToArray(), now));
        _held++;
        return requestDue ? Request(entry, now, Step.HeldAndRequest) : Step.Held;
    }

    private static Step Request(Entry entry, long now, Step step)
    {
        entry.RequestedAt = now;
        return step;
    }

    /// <summary>
    /// Learns that <paramref name="address"/> is at <paramref name="mac"/>: updates an entry that exists, and creates
    /// one only when <paramref name="create"/> (RFC 826: a request or reply addressed to us). Packets held for the neighbor
    /// are added to <paramref name="released"/>, oldest first, to be sent now.
    /// </summary>
    public void Learn(uint address, ulong mac, long now, bool create, List<byte[]> released)
    {
        var entry = Find(address, create, now);
        if (entry is null) return;
        entry.Mac = mac;
        entry.Known = true;
        entry.ConfirmedAt = now;
        if (entry.Held is null) return;
        Expire(entry, now);
        while (entry.Held.Count > 0)
        {
            released.Add(entry.Held.Dequeue().Packet);
            _held--;
        }
        entry.Held = null;
    }

    /// <summary>True when <paramref name="address"/> is in the table (known or being asked for).</summary>
    public bool Contains(uint address) => _entries.ContainsKey(address);

    private Entry? Find(uint address, bool create, long now)
    {
        if (_entries.TryGetValue(address, out var entry) || !create) return entry;
        while (_entries.Count >= _capacity && _age.TryDequeue(out uint oldest))
        {
            if (_entries.Remove(oldest, out var gone) && gone.Held is { } held)
            {
                Unresolved += held.Count;
                _held -= held.Count;
            }
        }
        entry = new Entry { ConfirmedAt = now };
        _entries[address] = entry;
        _age.Enqueue(address);
        return entry;
    }

    private void Expire(Entry entry, long now)
    {
        while (entry.Held is { Count: > 0 } held && now - held.Peek().At > (long)HoldTime.TotalMilliseconds)
        {
            held.Dequeue();
            _held--;
            Unresolved++;
        }
    }
}
