using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using NatFramework.Stores.Lru;

namespace NatFramework.Benchmarks;

/// <summary>
/// What this machine's memory costs, so the table's figures can be read against it: each step reads the cache line
/// whose address the step before read, at random through a buffer of the given size. Nothing overlaps, so a step
/// costs the latency of wherever that buffer lives (L2, L3 or DRAM). 2 MiB pages, as the LRU tables ask for.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public unsafe class MemoryLatencyBenchmarks
{
    private const int Steps = 100_000;
    private const int LineLength = 64;
    private nint* _lines;
    private nint* _cursor;

    [Params(1, 4, 64)]
    public int MiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        long bytes = MiB * (1L << 20);
        int lines = (int)(bytes / LineLength);
        _lines = (nint*)NativeMemory.AlignedAlloc((nuint)bytes, 2 << 20);
        HugePages.Advise(_lines, bytes);
        // One random cycle through every line, each holding the address of the next, so the hardware cannot guess it.
        var order = Enumerable.Range(0, lines).ToArray();
        new Random(1).Shuffle(order);
        for (int i = 0; i < lines; i++)
            *Line(order[i]) = (nint)Line(order[(i + 1) % lines]);
        _cursor = Line(order[0]);
    }

    private nint* Line(int index) => (nint*)((byte*)_lines + (long)index * LineLength);

    [GlobalCleanup]
    public void Cleanup() => NativeMemory.AlignedFree(_lines);

    [Benchmark(OperationsPerInvoke = Steps, Description = "read a random line named by the last read")]
    public nint DependentChase()
    {
        nint* at = _cursor;
        for (int i = 0; i < Steps; i++) at = (nint*)*at;
        _cursor = at;
        return (nint)at;
    }
}
