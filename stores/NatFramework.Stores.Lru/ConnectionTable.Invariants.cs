namespace NatFramework.Stores.Lru;

// Structural checks for tests.
internal sealed unsafe partial class ConnectionTable
{
    /// <summary>
    /// Checks the table's structure (for tests): every live entry is reachable under both keys and in its host's
    /// list, the index holds exactly two slots per live entry, and live, free and unused entries add up.
    /// </summary>
    internal void CheckInvariants()
    {
        lock (_lock)
        {
            int live = 0;
            for (int i = 0; i < _nextUnused; i++)
            {
                ref Entry e = ref _entries[i];
                if (e.Live == 0) continue;
                live++;
                for (int r = 0; r < 2; r++)
                {
                    var key = KeyOf(ref e, r == 1);
                    if (IndexOf(key, key.Hash64(_hashSeed), out bool reply) != i || reply != (r == 1))
                        throw new InvalidOperationException($"entry {i} is not found under its {(r == 1 ? "reply" : "outbound")} key");
                }
            }
            if (live != _count) throw new InvalidOperationException($"count {_count} but {live} live entries");
            int slots = 0;
            for (int position = 0; position < _slots.Length; position++)
            {
                uint slot = _slots[position];
                if (slot == 0) continue;
                slots++;
                int home = (int)KeyOf(ref _entries[(slot & IndexMask) - 1], (slot & ReplyBit) != 0).Hash64(_hashSeed) & _slotMask;
                uint expected = (uint)Math.Min((position - home) & _slotMask, (int)DistanceSaturated);
                if ((slot & DistanceMask) >> DistanceShift != expected)
                    throw new InvalidOperationException($"slot {position} records distance {(slot & DistanceMask) >> DistanceShift}, is {expected}");
            }
            if (slots != 2 * live) throw new InvalidOperationException($"{slots} slots for {live} connections");
            int free = 0;
            for (int f = _freeHead; f != 0; f = _entries[f - 1].HostNext)
            {
                if (_entries[f - 1].Live != 0) throw new InvalidOperationException("a live entry is on the free list");
                if (++free > _entries.Length) throw new InvalidOperationException("the free list loops");
            }
            if (free + live != _nextUnused) throw new InvalidOperationException($"{free} free + {live} live != {_nextUnused} used");
            int linked = 0;
            for (int i = 0; i < _nextUnused; i++)
            {
                ref Entry e = ref _entries[i];
                if (e.Live == 0) continue;
                uint host = HostOf(ref e);
                if (e.HostPrevious != 0) continue; // count each list once, from its head
                if (_hosts.HeadOf(host) != i + 1) throw new InvalidOperationException($"entry {i} has no predecessor but is not its host's head");
                int counted = 0;
                for (int n = i + 1; n != 0; n = _entries[n - 1].HostNext)
                {
                    if (++linked > live) throw new InvalidOperationException("a host list loops");
                    if (!IsRedirect(ref _entries[n - 1])) counted++;
                    int next = _entries[n - 1].HostNext;
                    if (next != 0 && _entries[next - 1].HostPrevious != n) throw new InvalidOperationException("host list links disagree");
                }
                if (_hosts.CountOf(host) != counted)
                    throw new InvalidOperationException($"host {new Ipv4Address(host)} counts {_hosts.CountOf(host)} source-NAT connections, its list holds {counted}");
            }
            if (linked != live) throw new InvalidOperationException($"{linked} entries in host lists, {live} live");
            var mapped = new Dictionary<int, (ulong Inside, ulong Public, uint Remote)>();
            for (int i = 0; i < _nextUnused; i++)
            {
                ref Entry e = ref _entries[i];
                if (e.Live != 0 && (e.Flags & MappedFlag) != 0)
                    mapped[i] = (MappingIndex.Endpoint(e.Outbound.Source, e.Outbound.SourcePort), MappingIndex.Endpoint(e.Reply.Destination, e.Reply.DestinationPort), e.Outbound.Destination);
            }
            _mappings.CheckAgainst(mapped);
        }
    }
}
