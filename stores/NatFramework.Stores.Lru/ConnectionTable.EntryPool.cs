using System.Runtime.CompilerServices;

namespace NatFramework.Stores.Lru;

// The entry pool: the free list, room made in a full table (transitory connections first, then CLOCK), and reclaiming expired entries.
internal sealed unsafe partial class ConnectionTable
{
    private int Allocate(in ExpiryCutoffs expiry)
    {
        if (_freeHead != 0) return TakeFree();
        if (_nextUnused < _entries.Length) return _nextUnused++;

        // Full. The connection that became transitory first and still is goes first (closed, reset or never answered:
        // RFC 7857), then one by CLOCK, which takes an expired connection it passes at once. (Expired connections are
        // also reclaimed by the sweep before every insert; a longer sweep here cost a cache miss per entry in a big table.)
        int transitory = TakeTransitory();
        if (transitory >= 0)
        {
            bool expired = !IsLive(ref _entries[transitory], expiry);
            RemoveEntry(transitory);
            if (expired) _expirations++;
            else _evictions++;
            return TakeFree();
        }
        // CLOCK. Every entry is live here (free ones would be on the free list).
        while (true)
        {
            int index = _clockHand;
            _clockHand = index + 1 == _entries.Length ? 0 : index + 1;
            ref Entry e = ref _entries[index];
            bool expired = !IsLive(ref e, expiry);
            if (e.Referenced != 0 && !expired)
            {
                e.Referenced = 0;
                continue;
            }
            RemoveEntry(index);
            if (expired) _expirations++;
            else _evictions++;
            return TakeFree();
        }
    }

    /// <summary>Takes the head of the free list (an entry just removed, or one freed earlier).</summary>
    private int TakeFree()
    {
        int index = _freeHead - 1;
        _freeHead = _entries[index].HostNext;
        return index;
    }

    private void NoteTransitory(int index)
    {
        if (_transitory.Length == 0) return;
        if (_transitoryCount == _transitory.Length)
        {
            // Full of indexes, most of them stale by now: the oldest goes.
            _transitoryHead = _transitoryHead + 1 == _transitory.Length ? 0 : _transitoryHead + 1;
            _transitoryCount--;
        }
        int tail = _transitoryHead + _transitoryCount;
        _transitory[tail >= _transitory.Length ? tail - _transitory.Length : tail] = index;
        _transitoryCount++;
    }

    /// <summary>The live entry that became transitory first and still is, or -1.</summary>
    private int TakeTransitory()
    {
        while (_transitoryCount > 0)
        {
            int index = _transitory[_transitoryHead];
            _transitoryHead = _transitoryHead + 1 == _transitory.Length ? 0 : _transitoryHead + 1;
            _transitoryCount--;
            if (_entries[index].Live != 0 && (_entries[index].Flags & TransitoryFlag) != 0) return index;
        }
        return -1;
    }

    /// <summary>Removes <paramref name="host"/>'s expired connections (a walk of its list, only when it is at its limit).</summary>
    private void ReclaimExpiredOf(uint host, in ExpiryCutoffs expiry)
    {
        for (int next = _hosts.HeadOf(host); next != 0;)
        {
            int index = next - 1;
            next = _entries[index].HostNext;
            if (!IsLive(ref _entries[index], expiry))
            {
                RemoveEntry(index);
                _expirations++;
            }
        }
    }

    private void SweepExpired(in ExpiryCutoffs expiry)
    {
        if (expiry.Tcp == long.MinValue || _nextUnused == 0) return;
        for (int step = 0; step < SweepPerInsert; step++)
        {
            int index = _sweepHand;
            _sweepHand = index + 1 >= _nextUnused ? 0 : index + 1;
            if (_entries[index].Live != 0 && !IsLive(ref _entries[index], expiry))
            {
                RemoveEntry(index);
                _expirations++;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RemoveEntry(int index)
    {
        ref Entry e = ref _entries[index];
        RemoveSlot(index, reply: false);
        RemoveSlot(index, reply: true);
        UnlinkHost(index, HostOf(ref e));
        if ((e.Flags & MappedFlag) != 0)
            _mappings.Unlink(index, MappingIndex.Endpoint(e.Outbound.Source, e.Outbound.SourcePort), MappingIndex.Endpoint(e.Reply.Destination, e.Reply.DestinationPort),
                e.Outbound.Destination);
        e.Live = 0;
        e.Referenced = 0;
        e.HostNext = _freeHead;
        _freeHead = index + 1;
        _count--;
    }
}
