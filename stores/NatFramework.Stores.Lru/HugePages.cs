using System.Runtime.InteropServices;

namespace NatFramework.Stores.Lru;

/// <summary>
/// Asks Linux to back a large table with 2 MiB pages (madvise MADV_HUGEPAGE; this kernel's transparent huge pages are
/// in "madvise" mode). A million-connection table spans ~64 MiB that lookups hit at random: with 4 KiB pages nearly
/// every lookup also misses the TLB, and under a VM's nested paging a TLB miss is a walk of two page tables.
/// Advice only: on other systems, or when the kernel declines, nothing changes.
/// </summary>
internal static partial class HugePages
{
    private const int HugePageSize = 2 << 20;
    private const int AdviseHugePage = 14; // MADV_HUGEPAGE

    /// <summary>Advises huge pages for the whole 2 MiB-aligned part of [<paramref name="start"/>, +<paramref name="length"/>).</summary>
    public static unsafe void Advise(void* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length < 2L * HugePageSize) return;
        long first = ((long)start + HugePageSize - 1) & ~(long)(HugePageSize - 1);
        long end = ((long)start + length) & ~(long)(HugePageSize - 1);
        if (end > first) _ = MemoryAdvise((nint)first, (nuint)(end - first), AdviseHugePage);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MemoryAdvise(nint address, nuint length, int advice);
}
