using System.Text;
using Microsoft.Extensions.Logging;

namespace NatFramework.Stores.Redis;

/// <summary>
/// What the Redis store logs, as source-generated messages (no formatting work when the level is off). Text that came
/// from Redis or the client (error messages quote keys, which are binary here) is logged through <see cref="Printable"/>.
/// </summary>
internal static partial class RedisStoreLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Redis NAT store {Prefix} is available again")]
    public static partial void AvailableAgain(ILogger logger, string prefix);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Redis NAT store {Prefix} is unavailable: {Reason}")]
    public static partial void Unavailable(ILogger logger, string prefix, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Redis NAT store {Prefix}: the failure in full")]
    public static partial void UnavailableDetail(ILogger logger, Exception cause, string prefix);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Redis NAT store {Prefix}: still unavailable ({Reason})")]
    public static partial void StillUnavailable(ILogger logger, string prefix, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Redis NAT store {Prefix}: warm-up skipped ({Reason})")]
    public static partial void WarmUpSkipped(ILogger logger, string prefix, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Redis NAT store {Prefix}: could not publish a near-cache invalidation ({Reason})")]
    public static partial void InvalidationNotPublished(ILogger logger, string prefix, string reason);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Redis NAT store {Prefix}: not subscribed to near-cache invalidations yet ({Reason})")]
    public static partial void NotSubscribed(ILogger logger, string prefix, string reason);

    /// <summary>
    /// <paramref name="text"/> with every control character and every character outside printable ASCII written as
    /// <c>\xNN</c> (or <c>\uNNNN</c>): the store's keys are binary, and client error messages quote them raw.
    /// </summary>
    public static string Printable(string text)
    {
        int i = 0;
        while (i < text.Length && text[i] >= ' ' && text[i] < 0x7F) i++;
        if (i == text.Length) return text;
        var result = new StringBuilder(text.Length + 16).Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= ' ' && c < 0x7F) result.Append(c);
            else if (c <= 0xFF) result.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            else result.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
        }
        return result.ToString();
    }

    /// <summary>The printable message of <paramref name="e"/> (and of its first inner exception, which often says more).</summary>
    public static string ReasonOf(Exception e)
        => Printable(e.InnerException is { } inner && inner.Message != e.Message ? $"{e.Message} ({inner.Message})" : e.Message);
}
