namespace NatFramework.Stores.Lru;

/// <summary>
/// Open-addressing map from an inside host to the head of its connection list (entry index + 1; the list itself is
/// threaded through the entries). Sized up front for one host per connection at load ≤ 0.5, so it never grows.
/// Not thread-safe: the owning table's writer lock guards it.
/// </summary>
internal sealed class HostIndex
{
    private readonly uint[] _hosts;
    private readonly int[] _heads; // 0 marks an empty slot
    private readonly int _mask;

    public HostIndex(int capacity)
    {
        int size = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2));
        _hosts = new uint[size];
        _heads = new int[size];
        _mask = size - 1;
        _hosts.AsSpan().Clear(); // fault the pages in now (see ConnectionTable)
        _heads.AsSpan().Clear();
    }

    private static int Home(uint host, int mask) => (int)((host * 0x9E3779B1u) >> 7) & mask;

    /// <summary>Starts fetching <paramref name="host"/>'s home slot into the cache.</summary>
    public unsafe void Prefetch(uint host)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        int home = Home(host, _mask);
        fixed (uint* hosts = _hosts)
        fixed (int* heads = _heads)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(hosts + home);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(heads + home);
        }
    }

    /// <summary>The head of <paramref name="host"/>'s list, 0 when it has none.</summary>
    public int HeadOf(uint host)
    {
        int i = Find(host);
        return i < 0 ? 0 : _heads[i];
    }

    /// <summary>
    /// Makes <paramref name="head"/> (not 0) the head of <paramref name="host"/>'s list and returns the previous head
    /// (0 when the host had none): one probe where <see cref="HeadOf"/> then <see cref="SetHead"/> made two.
    /// </summary>
    public int Push(uint host, int head)
    {
        int i = Home(host, _mask);
        while (_heads[i] != 0)
        {
            if (_hosts[i] == host)
            {
                int previous = _heads[i];
                _heads[i] = head;
                return previous;
            }
            i = (i + 1) & _mask;
        }
        _hosts[i] = host;
        _heads[i] = head;
        return 0;
    }

    /// <summary>Sets the head of <paramref name="host"/>'s list; 0 removes the host.</summary>
    public void SetHead(uint host, int head)
    {
        int i = Find(host);
        if (head == 0)
        {
            if (i >= 0) Delete(i);
            return;
        }
        if (i < 0)
        {
            i = Home(host, _mask);
            while (_heads[i] != 0) i = (i + 1) & _mask;
            _hosts[i] = host;
        }
        _heads[i] = head;
    }

    public void Clear()
    {
        Array.Clear(_hosts);
        Array.Clear(_heads);
    }

    private int Find(uint host)
    {
        int i = Home(host, _mask);
        while (_heads[i] != 0)
        {
            if (_hosts[i] == host) return i;
            i = (i + 1) & _mask;
        }
        return -1;
    }

    /// <summary>Backward-shift deletion: no tombstones, so probe sequences stay short however long the store runs.</summary>
    private void Delete(int hole)
    {
        int j = hole;
        while (true)
        {
            j = (j + 1) & _mask;
            if (_heads[j] == 0) break;
            int home = Home(_hosts[j], _mask);
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                _hosts[hole] = _hosts[j];
                _heads[hole] = _heads[j];
                hole = j;
            }
        }
        _heads[hole] = 0;
        _hosts[hole] = 0;
    }
}
