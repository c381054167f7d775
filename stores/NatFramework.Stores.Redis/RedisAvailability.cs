using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

/// <summary>
/// Whether Redis answers, as the store last found out. Once an operation could not reach Redis the store counts it as
/// down: every operation then fails at once instead of each waiting out the operation timeout (a hung Redis would
/// otherwise cost every new flow 250 ms), and one probe at a time — a <c>PING</c> every <see cref="ProbeInterval"/> —
/// finds out when it answers again. Each transition is logged once.
/// </summary>
internal sealed class RedisAvailability(Func<Task> ping, TimeSpan timeout, ILogger logger, string prefix, Action onAvailableAgain)
{
    /// <summary>How often a down Redis is asked whether it answers again.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    private int _down;
    private int _probing;
    private volatile bool _stopped;

    /// <summary>True unless the last operation (or probe) could not reach Redis.</summary>
    public bool IsAvailable => Volatile.Read(ref _down) == 0;

    /// <summary>An operation reached Redis.</summary>
    public void Reached()
    {
        if (Interlocked.Exchange(ref _down, 0) == 1)
        {
            RedisStoreLog.AvailableAgain(logger, prefix);
            onAvailableAgain();
        }
    }

    /// <summary>An operation could not reach Redis: from now on operations fail fast until a probe gets an answer.</summary>
    public void Failed(Exception cause)
    {
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            RedisStoreLog.Unavailable(logger, prefix, RedisStoreLog.ReasonOf(cause));
            RedisStoreLog.UnavailableDetail(logger, cause, prefix);
        }
        if (!_stopped && Interlocked.Exchange(ref _probing, 1) == 0) _ = ProbeAsync();
    }

    private async Task ProbeAsync()
    {
        try
        {
            while (!_stopped && !IsAvailable)
            {
                await Task.Delay(ProbeInterval).ConfigureAwait(false);
                try
                {
                    await ping().WaitAsync(timeout).ConfigureAwait(false);
                    Reached();
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    RedisStoreLog.StillUnavailable(logger, prefix, RedisStoreLog.ReasonOf(e));
                }
            }
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
        // A failure reported between the loop's last look and the flag's reset must not be left without a probe.
        if (!_stopped && !IsAvailable && Interlocked.Exchange(ref _probing, 1) == 0) _ = ProbeAsync();
    }

    /// <summary>No more probes (the store is being disposed).</summary>
    public void Stop() => _stopped = true;
}
