using System.Runtime.CompilerServices;

namespace NatFramework.Stores.Lru;

/// <summary>
/// A table's endpoint-independent mappings (<see cref="NatConnectionFlags.EndpointMapped"/>): each inside endpoint's
/// public endpoint, the list of its connections (threaded through two per-entry arrays, so a mapping ends with its last
/// connection, however that goes), the reverse map from public endpoint to inside endpoint, and per mapping how many
/// connections go to each remote address (what address-dependent filtering asks). Connections not in a mapping cost
/// nothing here. Grows with use, so a table whose connections never join a mapping pays only the empty maps. Not
/// thread-safe: the owning table's writer lock guards it (lookups of mappings take the lock too; they are for packets of
/// new flows only).
/// </summary>
/// <remarks>
/// Counts and lists hold connections that expired but were not reclaimed yet; the table checks liveness while walking
/// a list and reclaims what it finds expired, so a walk costs the expired connections it meets once and stops at the
/// first live one.
/// </remarks>
internal sealed class MappingIndex
{
    /// <summary>An endpoint as one number: address in the high 32 bits, port (or ICMP identifier) in the low 16.</summary>
    public static ulong Endpoint(uint address, ushort port) => (ulong)address << 16 | port;

    private struct Mapping
    {
        public ulong Public;
        public int Head; // entry index + 1 of the newest connection
    }

    private readonly Dictionary<ulong, Mapping> _byInside = new();
    private readonly Dictionary<ulong, ulong> _insideOfPublic = new();
    private readonly Dictionary<(ulong Public, uint Remote), int> _toRemote = new();
    private readonly int _capacity;
    private int[] _next = [], _previous = []; // entry index + 1; allocated at the first mapped connection

    public MappingIndex(int capacity) => _capacity = capacity;

    /// <summary>Mappings held (live or holding only connections not reclaimed yet).</summary>
    public int Count => _byInside.Count;

    /// <summary>Bytes held, roughly (the maps' entries and the per-entry links).</summary>
    public long MemoryBytes => ((long)_byInside.Count + _insideOfPublic.Count + _toRemote.Count) * 32 + ((long)_next.Length + _previous.Length) * sizeof(int);

    /// <summary>The public endpoint and newest connection (entry index, or -1) of <paramref name="inside"/>'s mapping.</summary>
    public bool TryGetByInside(ulong inside, out ulong publicEndpoint, out int head)
    {
        if (_byInside.TryGetValue(inside, out var mapping))
        {
            publicEndpoint = mapping.Public;
            head = mapping.Head - 1;
            return true;
        }
        publicEndpoint = 0;
        head = -1;
        return false;
    }

    /// <summary>The inside endpoint whose mapping has <paramref name="publicEndpoint"/>.</summary>
    public bool TryGetInsideOf(ulong publicEndpoint, out ulong inside) => _insideOfPublic.TryGetValue(publicEndpoint, out inside);

    /// <summary>The next older connection of the same mapping after entry <paramref name="index"/>, or -1.</summary>
    public int Next(int index) => _next[index] - 1;

    /// <summary>How many connections (live or not reclaimed yet) of the mapping of <paramref name="publicEndpoint"/> go to <paramref name="remote"/>.</summary>
    public int ToRemote(ulong publicEndpoint, uint remote) => _toRemote.TryGetValue((publicEndpoint, remote), out int count) ? count : 0;

    /// <summary>Adds entry <paramref name="index"/> to the mapping of <paramref name="inside"/> (made with <paramref name="publicEndpoint"/> when it has none).</summary>
    public void Link(int index, ulong inside, ulong publicEndpoint, uint remote)
    {
        if (_next.Length == 0)
        {
            _next = new int[_capacity];
            _previous = new int[_capacity];
        }
        ref var mapping = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byInside, inside, out bool exists);
        if (!exists)
        {
            mapping.Public = publicEndpoint;
            _insideOfPublic[publicEndpoint] = inside;
        }
        _next[index] = mapping.Head;
        _previous[index] = 0;
        if (mapping.Head != 0) _previous[mapping.Head - 1] = index + 1;
        mapping.Head = index + 1;
        System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_toRemote, (publicEndpoint, remote), out _)++;
    }

    /// <summary>Takes entry <paramref name="index"/> out of its mapping; the mapping goes with its last connection.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Unlink(int index, ulong inside, ulong publicEndpoint, uint remote)
    {
        int next = _next[index], previous = _previous[index];
        if (previous != 0) _next[previous - 1] = next;
        if (next != 0) _previous[next - 1] = previous;
        ref var mapping = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_byInside, inside);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref mapping) && mapping.Head == index + 1)
        {
            mapping.Head = next;
            if (next == 0)
            {
                _byInside.Remove(inside);
                _insideOfPublic.Remove(publicEndpoint);
            }
        }
        _next[index] = _previous[index] = 0;
        var key = (publicEndpoint, remote);
        if (_toRemote.TryGetValue(key, out int count))
        {
            if (count <= 1) _toRemote.Remove(key);
            else _toRemote[key] = count - 1;
        }
    }

    public void Clear()
    {
        _byInside.Clear();
        _insideOfPublic.Clear();
        _toRemote.Clear();
        Array.Clear(_next);
        Array.Clear(_previous);
    }

    /// <summary>Checks the index against the entries (for tests): <paramref name="mapped"/> lists each mapped live entry's inside endpoint, public endpoint and remote address.</summary>
    public void CheckAgainst(IReadOnlyDictionary<int, (ulong Inside, ulong Public, uint Remote)> mapped)
    {
        var listed = new HashSet<int>();
        foreach (var (inside, mapping) in _byInside)
        {
            if (!_insideOfPublic.TryGetValue(mapping.Public, out ulong back) || back != inside)
                throw new InvalidOperationException($"mapping {inside:X} -> {mapping.Public:X} is not found from its public endpoint");
            for (int i = mapping.Head - 1; i >= 0; i = _next[i] - 1)
            {
                if (!listed.Add(i)) throw new InvalidOperationException($"entry {i} is listed twice");
                if (!mapped.TryGetValue(i, out var entry) || entry.Inside != inside || entry.Public != mapping.Public)
                    throw new InvalidOperationException($"entry {i} is in the mapping of {inside:X} but is not one of its connections");
            }
        }
        if (listed.Count != mapped.Count) throw new InvalidOperationException($"{mapped.Count} mapped connections, {listed.Count} in mapping lists");
        if (_insideOfPublic.Count != _byInside.Count) throw new InvalidOperationException("public endpoints and mappings disagree");
        var remotes = mapped.Values.GroupBy(e => (e.Public, e.Remote)).ToDictionary(g => g.Key, g => g.Count());
        if (remotes.Count != _toRemote.Count || remotes.Any(r => ToRemote(r.Key.Public, r.Key.Remote) != r.Value))
            throw new InvalidOperationException("the counts of connections per remote address disagree with the entries");
    }
}
