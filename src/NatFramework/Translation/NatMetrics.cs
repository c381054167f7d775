using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using NatFramework.Packets;
using NatFramework.Translation;

namespace NatFramework;

/// <summary>
/// The library's metrics: the <see cref="System.Diagnostics.Metrics.Meter"/> named <see cref="MeterName"/>, counting what
/// every translator in the process does with packets. Watch it with
/// <c>dotnet-counters monitor -p &lt;pid&gt; --counters NatFramework</c>, or collect it with OpenTelemetry
/// (<c>AddMeter("NatFramework")</c>).
/// </summary>
/// <remarks>
/// <para>Instruments (observable counters, cumulative since the process started):
/// <c>natframework.packets.translated</c> (tag <c>nat.direction</c>: <c>outbound</c> or <c>reply</c>),
/// <c>natframework.packets.untranslated</c> (tag <c>nat.reason</c>, e.g. <c>no_connection</c>, <c>filtered</c>,
/// <c>quota_exceeded</c>), <c>natframework.packets.dropped</c> (tag <c>error.type</c>: the malformation, e.g.
/// <c>bad_header_checksum</c>), <c>natframework.packets.ttl_expired</c>, <c>natframework.packets.store_unavailable</c>,
/// and <c>natframework.connections.created</c> (connections the translator created from a new flow's packet),
/// <c>natframework.connections.removed</c> (by <c>RemoveConnections</c>).</para>
/// <para>From stores that can tell (<see cref="INatStoreStatistics"/>, <see cref="IAsyncNatStoreStatistics"/>), tagged
/// <c>nat.store</c> with the store's type name: <c>natframework.connections.active</c> (an up-down counter, tag
/// <c>nat.protocol</c>), <c>natframework.connections.evicted</c> and <c>natframework.connections.expired</c>.</para>
/// <para>For asynchronous (remote) stores, the histogram <c>natframework.store.duration</c> (seconds, tags
/// <c>nat.store</c> and <c>nat.operation</c>: <c>lookup</c>, <c>lookup_batch</c>, <c>insert</c>, <c>find_mapping</c>,
/// <c>touch</c>, <c>update_state</c>, <c>remove</c>, <c>contains</c>, <c>clear</c>, <c>remove_host</c>): how long each
/// store call took as the translator saw it, timed only while a listener has the histogram enabled.</para>
/// <para>Counting costs the packet path no allocation and no atomic instruction: each thread counts in its own cell,
/// and the cells are summed only when a listener asks.</para>
/// </remarks>
public static class NatMetrics
{
    /// <summary>The meter's name: <c>NatFramework</c>.</summary>
    public const string MeterName = "NatFramework";

    private static readonly int ReasonCount = Enum.GetValues<UntranslatedReason>().Max(r => (int)r) + 1;
    private static readonly int ErrorCount = Enum.GetValues<PacketError>().Max(e => (int)e) + 1;
    private static readonly KeyValuePair<string, object?>[] ReasonTags = Tags<UntranslatedReason>("nat.reason", ReasonCount);
    private static readonly KeyValuePair<string, object?>[] ErrorTags = Tags<PacketError>("error.type", ErrorCount);
    private static readonly KeyValuePair<string, object?> OutboundTag = new("nat.direction", "outbound");
    private static readonly KeyValuePair<string, object?> ReplyTag = new("nat.direction", "reply");

    private static readonly List<Cell> Cells = [];
    [ThreadStatic] private static Cell? t_cell;

    private static readonly List<Registration> Sources = [];
    private static readonly Dictionary<string, (long Evicted, long Expired)> Retired = []; // of sources collected since
    private static int s_registrations;
    private static long s_removed;

    private static readonly Meter Meter = CreateMeter();
    private static readonly Histogram<double> StoreDuration = Meter.CreateHistogram<double>("natframework.store.duration", "s",
        "How long calls to a remote store took, as the translator saw them.");

    /// <summary>One thread's counts. Written only by its thread; read (whole 64-bit words) by whoever observes.</summary>
    private sealed class Cell
    {
        public long Outbound, Reply, TtlExpired, StoreUnavailable, Created;
        public readonly long[] Untranslated = new long[ReasonCount];
        public readonly long[] Dropped = new long[ErrorCount];
    }

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, typeof(NatMetrics).Assembly.GetName().Version?.ToString(3));
        meter.CreateObservableCounter("natframework.packets.translated", ObserveTranslated, "{packet}", "Packets rewritten by a translator, by direction.");
        meter.CreateObservableCounter("natframework.packets.untranslated", ObserveUntranslated, "{packet}", "Packets no connection applied to, by reason.");
        meter.CreateObservableCounter("natframework.packets.dropped", ObserveDropped, "{packet}", "Malformed packets, by what is wrong with them.");
        meter.CreateObservableCounter("natframework.packets.ttl_expired", () => Sum(c => c.TtlExpired), "{packet}", "Packets with TTL 1 or less on arrival.");
        meter.CreateObservableCounter("natframework.packets.store_unavailable", () => Sum(c => c.StoreUnavailable), "{packet}", "Packets answered StoreUnavailable: the store could not be reached.");
        meter.CreateObservableCounter("natframework.connections.created", () => Sum(c => c.Created), "{connection}", "Connections created by translators from a new flow's packet.");
        meter.CreateObservableCounter("natframework.connections.removed", () => Interlocked.Read(ref s_removed), "{connection}", "Connections removed with their inside host (RemoveConnections).");
        meter.CreateObservableUpDownCounter("natframework.connections.active", ObserveActive, "{connection}", "Connections in the store's table, by protocol.");
        meter.CreateObservableCounter("natframework.connections.evicted", () => ObserveStoreTotal(s => s.Evicted, r => r.Evicted), "{connection}", "Live connections a store removed to make room.");
        meter.CreateObservableCounter("natframework.connections.expired", () => ObserveStoreTotal(s => s.Expired, r => r.Expired), "{connection}", "Idle connections a store reclaimed because they expired.");
        return meter;
    }

    /// <summary>True while a listener has <c>natframework.store.duration</c> enabled.</summary>
    internal static bool StoreDurationEnabled => StoreDuration.Enabled;

    /// <summary>Records one store call that began at the <see cref="Stopwatch"/> timestamp <paramref name="started"/>.</summary>
    internal static void RecordStoreCall(long started, string store, string operation)
        => StoreDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("nat.store", store),
            new KeyValuePair<string, object?>("nat.operation", operation));

    /// <summary>Counts connections removed with their host.</summary>
    internal static void CountRemoved(int count) => Interlocked.Add(ref s_removed, count);

    /// <summary>Publishes a store's statistics for as long as <paramref name="source"/> is alive.</summary>
    internal static void Register(StoreStatisticsSource source)
    {
        _ = Meter;
        lock (Sources)
        {
            Sources.Add(new Registration(source));
            if (++s_registrations % 64 == 0) Prune(); // drops collected ones, even when nobody listens
        }
    }

    /// <summary>A registered source, held weakly, with the totals it last reported (kept when it is collected).</summary>
    private sealed class Registration(StoreStatisticsSource source)
    {
        public readonly WeakReference<StoreStatisticsSource> Source = new(source);
        public readonly string Store = source.Store;
        public long Evicted, Expired;
    }

    /// <summary>Moves the totals of collected sources to <see cref="Retired"/> (so counters never go back) and forgets them.</summary>
    private static void Prune()
    {
        for (int i = Sources.Count - 1; i >= 0; i--)
        {
            var registration = Sources[i];
            if (registration.Source.TryGetTarget(out _)) continue;
            var (evicted, expired) = Retired.GetValueOrDefault(registration.Store);
            Retired[registration.Store] = (evicted + registration.Evicted, expired + registration.Expired);
            Sources.RemoveAt(i);
        }
    }

    /// <summary>Reads every live source (outside the lock: a store may take its own).</summary>
    private static List<(string Store, NatStoreStatistics Statistics, bool Current)> ReadSources(out Dictionary<string, (long Evicted, long Expired)> retired)
    {
        List<(Registration, StoreStatisticsSource)> live = [];
        lock (Sources)
        {
            Prune();
            foreach (var registration in Sources)
                if (registration.Source.TryGetTarget(out var source)) live.Add((registration, source));
            retired = new Dictionary<string, (long, long)>(Retired);
        }
        var read = new List<(string, NatStoreStatistics, bool)>(live.Count);
        foreach (var (registration, source) in live)
        {
            var (statistics, current) = source.Read();
            lock (Sources) (registration.Evicted, registration.Expired) = (statistics.Evicted ?? 0, statistics.Expired ?? 0);
            read.Add((source.Store, statistics, current));
        }
        return read;
    }

    private static IEnumerable<Measurement<long>> ObserveActive()
    {
        foreach (var group in ReadSources(out _).Where(s => s.Current).GroupBy(s => s.Store))
        {
            var store = new KeyValuePair<string, object?>("nat.store", group.Key);
            yield return new Measurement<long>(group.Sum(s => s.Statistics.Tcp), store, new KeyValuePair<string, object?>("nat.protocol", "tcp"));
            yield return new Measurement<long>(group.Sum(s => s.Statistics.Udp), store, new KeyValuePair<string, object?>("nat.protocol", "udp"));
            yield return new Measurement<long>(group.Sum(s => s.Statistics.Icmp), store, new KeyValuePair<string, object?>("nat.protocol", "icmp"));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveStoreTotal(Func<NatStoreStatistics, long?> of, Func<(long Evicted, long Expired), long> retired)
    {
        var totals = new Dictionary<string, long>();
        var read = ReadSources(out var gone);
        foreach (var (store, statistics, _) in read)
        {
            if (of(statistics) is not { } value) continue;
            totals[store] = totals.GetValueOrDefault(store) + value;
        }
        foreach (var (store, totalsOfGone) in gone)
            if (retired(totalsOfGone) > 0) totals[store] = totals.GetValueOrDefault(store) + retired(totalsOfGone);
        foreach (var (store, total) in totals)
            yield return new Measurement<long>(total, new KeyValuePair<string, object?>("nat.store", store));
    }

    /// <summary>Counts one translation's result on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Count(in NatTranslateResult result)
    {
        var cell = t_cell ?? NewCell();
        if (result.Status == NatTranslateStatus.Translated)
        {
            if (result.Direction == FlowDirection.Outbound) cell.Outbound++;
            else cell.Reply++;
            if (result.Created) cell.Created++;
        }
        else
        {
            CountOther(cell, result);
        }
    }

    /// <summary>Counts every result of a batch on the calling thread.</summary>
    internal static void Count(ReadOnlySpan<NatTranslateResult> results)
    {
        foreach (ref readonly var result in results) Count(result);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CountOther(Cell cell, in NatTranslateResult result)
    {
        switch (result.Status)
        {
            case NatTranslateStatus.Untranslated: cell.Untranslated[(int)result.Reason]++; break;
            case NatTranslateStatus.Dropped: cell.Dropped[(int)result.Error]++; break;
            case NatTranslateStatus.TtlExceeded: cell.TtlExpired++; break;
            case NatTranslateStatus.StoreUnavailable: cell.StoreUnavailable++; break;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Cell NewCell()
    {
        _ = Meter; // the instruments exist from the first count on
        var cell = new Cell();
        lock (Cells) Cells.Add(cell);
        return t_cell = cell;
    }

    private static Cell[] Snapshot()
    {
        lock (Cells) return [.. Cells];
    }

    // Each count is a whole 64-bit word written by one thread: a plain read sees the old or the new value.
    private static long Sum(Func<Cell, long> of) => Snapshot().Sum(of);

    private static IEnumerable<Measurement<long>> ObserveTranslated()
    {
        var cells = Snapshot();
        yield return new Measurement<long>(cells.Sum(c => c.Outbound), OutboundTag);
        yield return new Measurement<long>(cells.Sum(c => c.Reply), ReplyTag);
    }

    private static IEnumerable<Measurement<long>> ObserveUntranslated() => ByIndex(Snapshot(), c => c.Untranslated, ReasonTags);

    private static IEnumerable<Measurement<long>> ObserveDropped() => ByIndex(Snapshot(), c => c.Dropped, ErrorTags);

    private static IEnumerable<Measurement<long>> ByIndex(Cell[] cells, Func<Cell, long[]> counts, KeyValuePair<string, object?>[] tags)
    {
        for (int i = 1; i < tags.Length; i++) // 0 is "none"
        {
            long total = 0;
            foreach (var cell in cells) total += counts(cell)[i];
            if (total > 0) yield return new Measurement<long>(total, tags[i]);
        }
    }

    private static KeyValuePair<string, object?>[] Tags<TEnum>(string key, int count) where TEnum : struct, Enum
    {
        var tags = new KeyValuePair<string, object?>[count];
        for (int i = 0; i < count; i++)
        {
            var name = Enum.GetName(typeof(TEnum), i) ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            tags[i] = new(key, SnakeCase(name));
        }
        return tags;
    }

    /// <summary><c>NoConnection</c> → <c>no_connection</c> (OpenTelemetry's attribute value style).</summary>
    internal static string SnakeCase(string name)
    {
        var text = new System.Text.StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) text.Append('_');
            text.Append(char.ToLowerInvariant(name[i]));
        }
        return text.ToString();
    }
}
