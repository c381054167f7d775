using Microsoft.Extensions.Logging;

namespace NatFramework.Translation;

/// <summary>What a translator logs, as source-generated messages (no formatting work while the level is off).</summary>
internal static partial class TranslatorLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Debug,
        Message = "NAT translator over {Store}: {SourceNatRules} source-NAT rules, {PortForwards} port forwards, expiry {Expiry}")]
    public static partial void Created(ILogger logger, string store, int sourceNatRules, int portForwards, string expiry);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information,
        Message = "NAT translator over {Store}: policy replaced ({SourceNatRules} source-NAT rules, {PortForwards} port forwards)")]
    public static partial void PolicyReplaced(ILogger logger, string store, int sourceNatRules, int portForwards);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning,
        Message = "NAT translator over {Store}: the store cannot be reached; packets that need it are answered StoreUnavailable until it answers again")]
    public static partial void StoreUnavailable(ILogger logger, string store);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information,
        Message = "NAT translator over {Store}: the store answers again after {Seconds:F1} s; {Packets} packets were answered StoreUnavailable meanwhile")]
    public static partial void StoreAvailable(ILogger logger, string store, double seconds, long packets);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning,
        Message = "NAT translator over {Store}: {Count} new flows refused as {Reason} in the last {Seconds:F0} s ({Advice})")]
    public static partial void FlowsRefused(ILogger logger, string store, long count, string reason, double seconds, string advice);

    [LoggerMessage(EventId = 106, Level = LogLevel.Debug,
        Message = "NAT translator over {Store}: removed {Count} connections of {Host}")]
    public static partial void ConnectionsRemoved(ILogger logger, string store, int count, string host);

    [LoggerMessage(EventId = 107, Level = LogLevel.Information, Message = "NAT translator over {Store}: table reset")]
    public static partial void Reset(ILogger logger, string store);
}
