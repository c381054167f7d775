using NatFramework.Packets;

namespace NatFramework.StoreConformance;

/// <summary>
/// Whether a bounded store's memory stays flat once its table is full: new TCP flows (a SYN each, never answered, so each
/// connection stays transitory and gives way to the next) are translated through a translator whose policy creates them,
/// far past the table's capacity, and the process's live managed heap after a full collection is read at two and at ten
/// times the capacity. Something kept per evicted or removed connection shows up as growth between the two. Measure with
/// nothing else running in the process (an xunit collection with parallelization off).
/// </summary>
public static class MemoryAtCapacity
{
    /// <summary>The policy the flows need: every 10.0.0.0/8 host is translated to 198.51.100.1.</summary>
    public static NatPolicy Policy { get; } = new()
    {
        SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.0.0.0/8"), Ipv4Address.Parse("198.51.100.1"))],
    };

    /// <summary>Live managed bytes after full collections, at 2× and 10× <paramref name="tcpCapacity"/> new flows.</summary>
    /// <param name="translate">Translates one packet from inside, as the store's translator does.</param>
    /// <param name="tcpCapacity">The store's TCP capacity.</param>
    /// <param name="settle">Called before each measurement (a store with a background writer flushes there).</param>
    /// <param name="tableSize">The store's TCP connection count, checked to be at capacity at each measurement.</param>
    /// <returns>The live managed heap at two and at ten times the capacity.</returns>
    public static async Task<(long AtTwice, long AtTenTimes)> MeasureAsync(Func<byte[], ValueTask<NatTranslateResult>> translate, int tcpCapacity,
        Func<Task>? settle = null, Func<Task<long>>? tableSize = null)
    {
        long atTwice = 0;
        for (int i = 0, flows = 10 * tcpCapacity; i < flows; i++)
        {
            // 1,000 source ports per host: hosts come and go, as their connections are evicted.
            var syn = Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A000002u + (uint)(i / 1000)), (ushort)(1024 + i % 1000), Ipv4Address.Parse("203.0.113.1"), 443, [], TcpFlags.Syn);
            var result = await translate(syn).ConfigureAwait(false);
            Assert.True(result.IsTranslated, $"flow {i}: {result}");
            if (i + 1 == 2 * tcpCapacity) atTwice = await LiveBytesAsync(settle, tableSize, tcpCapacity).ConfigureAwait(false);
        }
        return (atTwice, await LiveBytesAsync(settle, tableSize, tcpCapacity).ConfigureAwait(false));
    }

    private static async Task<long> LiveBytesAsync(Func<Task>? settle, Func<Task<long>>? tableSize, int tcpCapacity)
    {
        if (settle is not null) await settle().ConfigureAwait(false);
        if (tableSize is not null) Assert.Equal(tcpCapacity, await tableSize().ConfigureAwait(false));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>Asserts that the heap at ten times the capacity is within 10 % of the heap at twice it.</summary>
    /// <param name="measured">What <see cref="MeasureAsync"/> returned.</param>
    public static void AssertFlat((long AtTwice, long AtTenTimes) measured)
        => Assert.True(measured.AtTenTimes <= measured.AtTwice * 1.10,
            $"the live heap grew from {measured.AtTwice / 1048576.0:F1} MiB at 2x the capacity to {measured.AtTenTimes / 1048576.0:F1} MiB at 10x");
}
