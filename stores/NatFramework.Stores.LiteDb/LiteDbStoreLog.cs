using Microsoft.Extensions.Logging;

namespace NatFramework.Stores.LiteDb;

/// <summary>What the LiteDB store logs, as source-generated messages (no formatting work when the level is off).</summary>
internal static partial class LiteDbStoreLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "NAT table file {Path} is empty (0 bytes); starting a new table in it")]
    public static partial void EmptyFile(ILogger logger, string path);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "NAT table file {Path} cannot be used ({Reason}); moved it unchanged to {Aside} and started an empty table")]
    public static partial void MovedAside(ILogger logger, Exception? cause, string path, string reason, string aside);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning,
        Message = "NAT table file {Path} holds {Count} {Protocol} connections, more than the capacity of {Capacity}: new ones are refused until it is below")]
    public static partial void OverCapacity(ILogger logger, string path, int count, NatProtocol protocol, int capacity);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Dropped {Count} connections that expired while {Path} was closed")]
    public static partial void ExpiredWhileClosed(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "NAT table file {Path} is being written again")]
    public static partial void WritingAgain(ILogger logger, string path);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "Writing the NAT table file {Path} failed; translating from memory, refusing new connections, retrying")]
    public static partial void WriteFailed(ILogger logger, Exception cause, string path);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Rolling back a failed write to {Path}")]
    public static partial void RollbackFailed(ILogger logger, Exception cause, string path);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "Closing the failed LiteDB engine of {Path}")]
    public static partial void CloseFailed(ILogger logger, Exception cause, string path);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Could not reach the transactions of the failed LiteDB engine of {Path}")]
    public static partial void TransactionsUnreachable(ILogger logger, Exception cause, string path);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Copying the log of NAT table file {Path} into it failed; the log keeps every commit and the next checkpoint tries again")]
    public static partial void CheckpointFailed(ILogger logger, Exception cause, string path);
}
