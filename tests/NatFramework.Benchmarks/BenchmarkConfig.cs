using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace NatFramework.Benchmarks;

/// <summary>One short job for every benchmark, with allocations measured: a few seconds each on 2 cores.</summary>
public sealed class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(8));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
