namespace NatFramework.Stores.Lru;

// Endpoint-independent mappings as the table sees them: a mapping's live connections, and finding one by public endpoint.
internal sealed unsafe partial class ConnectionTable
{
    /// <summary>
    /// A live connection of <paramref name="inside"/>'s mapping (the newest live one), or -1 when it has none; expired
    /// connections met on the way are reclaimed, and the mapping goes with its last one.
    /// </summary>
    private int LiveConnectionOf(ulong inside, in ExpiryCutoffs expiry)
    {
        if (!_mappings.TryGetByInside(inside, out _, out int index)) return -1;
        while (index >= 0)
        {
            int next = _mappings.Next(index);
            if (IsLive(ref _entries[index], expiry)) return index;
            RemoveEntry(index);
            _expirations++;
            index = next;
        }
        return -1;
    }

    /// <summary>True when a live connection of <paramref name="inside"/>'s mapping goes to <paramref name="remote"/> (expired ones met are reclaimed).</summary>
    private bool HasLiveConnectionTo(ulong inside, uint remote, in ExpiryCutoffs expiry)
    {
        if (!_mappings.TryGetByInside(inside, out _, out int index)) return false;
        while (index >= 0)
        {
            int next = _mappings.Next(index);
            if (!IsLive(ref _entries[index], expiry))
            {
                RemoveEntry(index);
                _expirations++;
            }
            else if (_entries[index].Outbound.Destination == remote) return true;
            index = next;
        }
        return false;
    }

    /// <summary>The live mapping whose public endpoint is <paramref name="publicAddress"/>:<paramref name="publicPort"/> (see <see cref="INatStore.TryFindMapping"/>).</summary>
    public bool TryFindMapping(Ipv4Address publicAddress, ushort publicPort, Ipv4Address remote, in ExpiryCutoffs expiry, out NatMapping mapping)
    {
        mapping = default;
        ulong publicEndpoint = MappingIndex.Endpoint(publicAddress.Value, publicPort);
        lock (_lock)
        {
            if (!_mappings.TryGetInsideOf(publicEndpoint, out ulong inside)) return false;
            BeginWrite(); // the walks may reclaim expired connections
            try
            {
                if (LiveConnectionOf(inside, expiry) < 0) return false;
                bool seen = _mappings.ToRemote(publicEndpoint, remote.Value) > 0 && HasLiveConnectionTo(inside, remote.Value, expiry);
                mapping = new NatMapping(new Ipv4Address((uint)(inside >> 16)), (ushort)inside, publicAddress, publicPort, seen);
                return true;
            }
            finally
            {
                EndWrite();
            }
        }
    }
}
