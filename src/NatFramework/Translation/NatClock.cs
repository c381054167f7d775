namespace NatFramework;

/// <summary>
/// The translators' time source, in milliseconds since the Unix epoch. With <see cref="TimeProvider.System"/>
/// it reads the cheap monotonic tick count plus a fixed offset (a few nanoseconds, no system call), so the
/// packet path can check expiry on every packet; any other provider (a fake clock in tests) is asked directly.
/// </summary>
public sealed class NatClock
{
    private readonly TimeProvider _time;
    private readonly bool _isSystem;
    private readonly long _offset;

    /// <summary>Creates a clock over <paramref name="time"/> (the system clock when null).</summary>
    public NatClock(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _isSystem = ReferenceEquals(_time, TimeProvider.System);
        _offset = _time.GetUtcNow().ToUnixTimeMilliseconds() - Environment.TickCount64;
    }

    /// <summary>The provider behind this clock.</summary>
    public TimeProvider TimeProvider => _time;

    /// <summary>Now, in milliseconds since the Unix epoch.</summary>
    public long NowMilliseconds => _isSystem ? Environment.TickCount64 + _offset : _time.GetUtcNow().ToUnixTimeMilliseconds();
}
