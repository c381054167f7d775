using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>
/// A lookup's memory pattern with no table around it: a random 4-byte slot of a 32 MiB index names a random 64-byte
/// entry of 64 MiB (as a million-connection table's slot names its entry), with some independent work per lookup
/// standing in for the rest of a packet (rounds of a multiply-xor mix, about five instructions each). Shows how far
/// the core overlaps consecutive lookups' misses by itself, and what prefetching ahead recovers — the bound any
/// one-packet-at-a-time path meets on this machine.
/// </summary>
/// <remarks>
/// Each invocation walks the next 100,000 of 4,194,304 precomputed visits, as <see cref="TranslateBenchmarks"/> walks
/// its million flows: the lines one invocation touches (12.8 MB) would fit this machine's 32 MiB L3, and walking the
/// same visits every time measured the L3 (6.5 ns per prefetched lookup) instead of the DRAM a million-flow table pays
/// (12.3 ns).
/// </remarks>
[Config(typeof(BenchmarkConfig))]
public unsafe class LookupOverlapBenchmarks
{
    private const int Lookups = 100_000;
    private const int Visits = 4 << 20;
    private const int SlotCount = 8 << 20, EntryCount = 1 << 20, EntryLongs = 8;
    private const int SlotLead = 24, EntryLead = 12;
    private uint* _slots;
    private long* _entries;
    private int[] _visits = [];
    private int _cursor;

    [Params(0, 20, 40)]
    public int WorkRounds { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _slots = (uint*)NativeMemory.AlignedAlloc(SlotCount * sizeof(uint), 2 << 20);
        _entries = (long*)NativeMemory.AlignedAlloc((nuint)EntryCount * EntryLongs * sizeof(long), 2 << 20);
        HugePages.Advise(_slots, SlotCount * sizeof(uint));
        HugePages.Advise(_entries, (long)EntryCount * EntryLongs * sizeof(long));
        var random = new Random(1);
        for (int i = 0; i < SlotCount; i++) _slots[i] = (uint)random.Next(EntryCount);
        for (long i = 0; i < (long)EntryCount * EntryLongs; i++) _entries[i] = i;
        _visits = Enumerable.Range(0, Visits + SlotLead).Select(_ => random.Next(SlotCount)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_slots);
        NativeMemory.AlignedFree(_entries);
    }

    /// <summary>The invocation's visits (with the prefetch lead after them), the next part of the precomputed walk.</summary>
    private ReadOnlySpan<int> NextVisits()
    {
        int first = _cursor;
        _cursor = (_cursor + Lookups) % (Visits - Lookups);
        return _visits.AsSpan(first, Lookups + SlotLead);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static ulong Work(int lookup, int rounds)
    {
        ulong mix = (ulong)lookup;
        for (int k = 0; k < rounds; k++)
        {
            mix ^= mix >> 29;
            mix *= 0x9E37_79B9_7F4A_7C15UL;
        }
        return mix;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "work alone")]
    public long WorkAlone()
    {
        long sum = 0;
        int rounds = WorkRounds;
        var visits = NextVisits();
        for (int i = 0; i < Lookups; i++) sum += visits[i] + (long)(Work(i, rounds) & 1);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "work, then slot, then its entry")]
    public long SlotThenEntry()
    {
        long sum = 0;
        int rounds = WorkRounds;
        var visits = NextVisits();
        for (int i = 0; i < Lookups; i++)
        {
            uint entry = _slots[visits[i]];
            sum += _entries[entry * (long)EntryLongs] + (long)(Work(i, rounds) & 1);
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Lookups, Description = "the same, slot prefetched 24 ahead, entry 12 ahead")]
    public long SlotThenEntryPrefetched()
    {
        long sum = 0;
        int rounds = WorkRounds;
        var visits = NextVisits();
        for (int i = 0; i < Lookups; i++)
        {
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(_slots + visits[i + SlotLead]);
                Sse.Prefetch0(_entries + _slots[visits[i + EntryLead]] * (long)EntryLongs);
            }
            uint entry = _slots[visits[i]];
            sum += _entries[entry * (long)EntryLongs] + (long)(Work(i, rounds) & 1);
        }
        return sum;
    }
}
