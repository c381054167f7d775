using BenchmarkDotNet.Running;

namespace NatFramework.Benchmarks;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project tests/NatFramework.Benchmarks -- --filter '*'</c>, or
/// <c>-- memory</c> for the memory-per-connection report.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["memory", ..]) return MemoryReport.Run();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
