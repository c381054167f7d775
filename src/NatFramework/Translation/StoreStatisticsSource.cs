namespace NatFramework.Translation;

/// <summary>
/// One translator's way to its store's statistics, as the meter reads them. The meter holds it weakly (through
/// <see cref="NatMetrics"/>), so a translator nobody uses any more is collected and leaves the meter.
/// </summary>
internal sealed class StoreStatisticsSource
{
    private static readonly TimeSpan RemoteTimeout = TimeSpan.FromSeconds(5);

    private readonly Func<NatStoreStatistics>? _read;
    private readonly Func<CancellationToken, ValueTask<NatStoreStatistics>>? _readAsync;
    private readonly Lock _gate = new();
    private NatStoreStatistics _last;
    private bool _current; // the last read succeeded: the table's size is worth publishing
    private bool _refreshing;

    public StoreStatisticsSource(string store, Func<NatStoreStatistics> read) => (Store, _read) = (store, read);

    public StoreStatisticsSource(string store, Func<CancellationToken, ValueTask<NatStoreStatistics>> readAsync) => (Store, _readAsync) = (store, readAsync);

    /// <summary>The store's type name, the <c>nat.store</c> tag of its measurements.</summary>
    public string Store { get; }

    /// <summary>
    /// The statistics to publish now, and whether the table's size in them is current. A synchronous store is asked
    /// now; an asynchronous one answers with its previous answer and is asked again in the background (a meter callback
    /// must not wait for a network).
    /// </summary>
    public (NatStoreStatistics Statistics, bool Current) Read()
    {
        if (_read is not null)
        {
            try
            {
                var statistics = _read();
                lock (_gate) (_last, _current) = (statistics, true);
            }
            catch (Exception e) when (e is NatStoreUnavailableException or InvalidOperationException or ObjectDisposedException)
            {
                lock (_gate) _current = false;
            }
        }
        else
        {
            StartRefresh();
        }
        lock (_gate) return (_last, _current);
    }

    private void StartRefresh()
    {
        lock (_gate)
        {
            if (_refreshing) return;
            _refreshing = true;
        }
        _ = RefreshAsync();
    }

    private async Task RefreshAsync()
    {
        NatStoreStatistics? statistics = null;
        try
        {
            using var timeout = new CancellationTokenSource(RemoteTimeout);
            statistics = await _readAsync!(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatStoreUnavailableException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            // Published as "size unknown" until the store answers; the eviction and expiry totals keep their last value.
        }
        lock (_gate)
        {
            if (statistics is { } s) _last = s;
            _current = statistics is not null;
            _refreshing = false;
        }
    }
}
