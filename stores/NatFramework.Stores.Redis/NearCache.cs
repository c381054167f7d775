using System.Collections.Concurrent;

namespace NatFramework.Stores.Redis;

/// <summary>
/// Recent lookups kept in process, so an established flow is translated without a round trip. An entry is fresh for a
/// bounded time; the store decides what a stale one is still good for (see <see cref="RedisNatStore"/>). Bounded by a
/// capacity: when full it is emptied and refills from Redis (cheap and simple; the working set of a router fits well
/// within the default).
/// </summary>
internal sealed class NearCache
{
    private readonly ConcurrentDictionary<FlowKey, Entry> _entries = new();
    private readonly int _capacity;
    private readonly long _freshnessMs;
    private readonly NatClock _clock = new(); // the coarse system clock: a memory read, not a clock call, per lookup
    private int _approximateCount;

    private readonly record struct Entry(NatLookup Lookup, long FetchedAt);

    public NearCache(int capacity, TimeSpan freshness)
    {
        _capacity = capacity;
        _freshnessMs = (long)freshness.TotalMilliseconds;
    }

    /// <summary>Now, in the cache's clock (Unix milliseconds, coarse).</summary>
    public long Now => _clock.NowMilliseconds;

    /// <summary>The entry of <paramref name="key"/>, fresh or not; <paramref name="fresh"/> says which.</summary>
    public bool TryGet(in FlowKey key, out NatLookup lookup, out bool fresh)
    {
        if (_capacity > 0 && _entries.TryGetValue(key, out var entry))
        {
            lookup = entry.Lookup;
            fresh = _clock.NowMilliseconds - entry.FetchedAt < _freshnessMs;
            return true;
        }
        lookup = default;
        fresh = false;
        return false;
    }

    public void Put(in FlowKey key, in NatLookup lookup)
    {
        if (_capacity == 0) return;
        if (Interlocked.Increment(ref _approximateCount) > _capacity)
        {
            _entries.Clear();
            Volatile.Write(ref _approximateCount, 0);
        }
        _entries[key] = new Entry(lookup, _clock.NowMilliseconds);
    }

    /// <summary>Records a refresh made through this store, keeping the entry's freshness.</summary>
    public void Touched(in FlowKey key, long lastSeen)
    {
        if (_capacity > 0 && _entries.TryGetValue(key, out var entry))
            _entries[key] = entry with { Lookup = new NatLookup(entry.Lookup.Connection.WithLastSeen(lastSeen), entry.Lookup.Direction) };
    }

    /// <summary>
    /// Records the TCP state Redis holds for a connection — one this store wrote (with its time), or one a refused
    /// compare-and-set reported (<paramref name="lastSeen"/> null: the time stays) — under both of its keys, keeping the
    /// entries' freshness: the next state change is then computed from it.
    /// </summary>
    public void Updated(in FlowKey key, NatConnectionFlags flags, long? lastSeen)
    {
        if (_capacity == 0 || !_entries.TryGetValue(key, out var entry)) return;
        var connection = entry.Lookup.Connection;
        UpdateOne(connection.OutboundKey, flags, lastSeen);
        UpdateOne(connection.ReplyKey, flags, lastSeen);
    }

    private void UpdateOne(in FlowKey key, NatConnectionFlags flags, long? lastSeen)
    {
        if (!_entries.TryGetValue(key, out var entry)) return;
        var connection = entry.Lookup.Connection;
        _entries[key] = entry with { Lookup = new NatLookup(connection.WithState(flags, lastSeen ?? connection.LastSeen), entry.Lookup.Direction) };
    }

    public void Remove(in FlowKey key) => _entries.TryRemove(key, out _);

    public void Clear()
    {
        _entries.Clear();
        Volatile.Write(ref _approximateCount, 0);
    }
}
