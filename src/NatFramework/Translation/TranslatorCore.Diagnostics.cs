using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace NatFramework.Translation;

/// <summary>
/// What a translator tells about itself: log messages for the events an operator acts on (the store unreachable and
/// back, new flows refused for lack of room, ports or quota — at most one message per reason per interval, with the
/// count), and the store's statistics on the library's meter.
/// </summary>
public sealed partial class TranslatorCore
{
    private static readonly TimeSpan RefusalLogInterval = TimeSpan.FromSeconds(10);
    private static readonly UntranslatedReason[] LoggedRefusals = [UntranslatedReason.TableFull, UntranslatedReason.NoFreePort, UntranslatedReason.QuotaExceeded];

    private readonly ILogger? _logger; // null when nothing would be logged: the packet path tests one field
    private readonly string _storeName;
    private readonly RefusalWindow[] _refusals = [new(), new(), new()];
    private StoreStatisticsSource? _statistics;

    // Store availability as this translator saw it: the Stopwatch timestamp it was lost at (0: available) and the
    // packets answered StoreUnavailable since.
    private long _unavailableSince;
    private long _unavailablePackets;

    /// <summary>Refusals of one reason since the last message about them.</summary>
    private sealed class RefusalWindow
    {
        public long Count;
        public long OpenedAt; // Stopwatch timestamp; 0 when no refusal is pending
    }

    /// <summary>
    /// Publishes the store's statistics on the library's meter while this translator lives (called once by a generated
    /// translator whose store has <see cref="INatStoreStatistics"/>).
    /// </summary>
    /// <param name="read">Reads the store's statistics.</param>
    public void PublishStatistics(Func<NatStoreStatistics> read)
        => NatMetrics.Register(_statistics = new StoreStatisticsSource(_storeName, read ?? throw new ArgumentNullException(nameof(read))));

    /// <summary>As <see cref="PublishStatistics(Func{NatStoreStatistics})"/>, for a store with <see cref="IAsyncNatStoreStatistics"/>.</summary>
    /// <param name="read">Reads the store's statistics.</param>
    public void PublishStatistics(Func<CancellationToken, ValueTask<NatStoreStatistics>> read)
        => NatMetrics.Register(_statistics = new StoreStatisticsSource(_storeName, read ?? throw new ArgumentNullException(nameof(read))));

    /// <summary>True when a result must be looked at for the log: anything but a translation, or any while the store is down.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Notable(in NatTranslateResult result)
        => _logger is not null && (result.Status != NatTranslateStatus.Translated || _unavailableSince != 0);

    /// <summary>Logs what a result says about the store or the table, when it says anything.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Notice(in NatTranslateResult result)
    {
        var logger = _logger!;
        if (result.Status == NatTranslateStatus.StoreUnavailable)
        {
            Interlocked.Increment(ref _unavailablePackets);
            if (Interlocked.CompareExchange(ref _unavailableSince, Stopwatch.GetTimestamp(), 0) == 0) TranslatorLog.StoreUnavailable(logger, _storeName);
            return;
        }
        long since = Volatile.Read(ref _unavailableSince);
        if (since != 0 && Interlocked.CompareExchange(ref _unavailableSince, 0, since) == since)
            TranslatorLog.StoreAvailable(logger, _storeName, Stopwatch.GetElapsedTime(since).TotalSeconds, Interlocked.Exchange(ref _unavailablePackets, 0));
        if (result.Status != NatTranslateStatus.Untranslated) return;
        int index = Array.IndexOf(LoggedRefusals, result.Reason);
        if (index >= 0) Refused(index);
    }

    /// <summary>Logs refusals of one reason at most once per <see cref="RefusalLogInterval"/>: the first at once, then the count.</summary>
    private void Refused(int index)
    {
        var window = _refusals[index];
        long now = Stopwatch.GetTimestamp();
        long count;
        double seconds;
        lock (window)
        {
            window.Count++;
            if (window.OpenedAt != 0 && Stopwatch.GetElapsedTime(window.OpenedAt, now) < RefusalLogInterval) return;
            seconds = window.OpenedAt == 0 ? 0 : Stopwatch.GetElapsedTime(window.OpenedAt, now).TotalSeconds;
            (count, window.Count, window.OpenedAt) = (window.Count, 0, now);
        }
        var reason = LoggedRefusals[index];
        TranslatorLog.FlowsRefused(_logger!, _storeName, count, NatMetrics.SnakeCase(reason.ToString()), seconds, reason switch
        {
            UntranslatedReason.TableFull => "the table is full of live connections: raise the store's capacity or shorten the timeouts",
            UntranslatedReason.NoFreePort => "no free public port for the flow: widen the port range or add public addresses",
            _ => "an inside host is at its per-host limit (NatPolicy.*ConnectionsPerHost)",
        });
    }

    /// <summary>Logs every notable result of a batch.</summary>
    private void NoticeAll(ReadOnlySpan<NatTranslateResult> results)
    {
        if (_logger is null) return;
        foreach (ref readonly var result in results)
            if (Notable(result)) Notice(result);
    }

    private void LogCreated()
    {
        if (_logger is null) return;
        var policy = Options.Policy;
        TranslatorLog.Created(_logger, _storeName, policy.SourceNat.Count, policy.PortForwards.Count,
            !Options.ExpiryEnabled ? "off" : _storeExpires ? "by the store" : "by the translator");
    }

    private void LogPolicyReplaced(NatPolicy policy)
    {
        if (_logger is not null) TranslatorLog.PolicyReplaced(_logger, _storeName, policy.SourceNat.Count, policy.PortForwards.Count);
    }

    private void LogRemoved(Ipv4Address host, int count)
    {
        NatMetrics.CountRemoved(count);
        if (_logger is not null) TranslatorLog.ConnectionsRemoved(_logger, _storeName, count, host.ToString());
    }

    private void LogReset()
    {
        if (_logger is not null) TranslatorLog.Reset(_logger, _storeName);
    }
}
