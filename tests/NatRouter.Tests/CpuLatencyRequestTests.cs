namespace NatRouter.Tests;

/// <summary>The CPU latency request (<c>--cpu-latency-us</c>): held while it lives, withdrawn when disposed, refused with a reason.</summary>
public sealed class CpuLatencyRequestTests
{
    [Fact]
    public void A_request_holds_the_machine_to_its_latency_until_disposed_or_says_why_it_cannot()
    {
        var before = CpuLatencyRequest.Current();
        bool held = CpuLatencyRequest.TryHold(TimeSpan.FromMicroseconds(3), out var request, out string? error);
        if (!Environment.IsPrivilegedProcess || !File.Exists(CpuLatencyRequest.DevicePath))
        {
            // Not permitted (or no such interface): refused with the device and the reason, nothing held.
            Assert.False(held);
            Assert.Null(request);
            Assert.Contains(CpuLatencyRequest.DevicePath, error);
            return;
        }
        Assert.True(held, error);
        using (request)
        {
            Assert.Equal(TimeSpan.FromMicroseconds(3), request!.Latency);
            Assert.True(CpuLatencyRequest.Current() <= TimeSpan.FromMicroseconds(3));
        }
        // Withdrawn when the last descriptor closes: a process that another test starts at this moment holds a copy of
        // ours between its fork and its exec (close-on-exec closes it there), so the machine may take a moment to let go.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (CpuLatencyRequest.Current() != before && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Equal(before, CpuLatencyRequest.Current());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2_000_000_001L)]
    public void A_latency_outside_what_the_kernel_takes_is_refused_before_the_device_is_opened(long microseconds)
    {
        Assert.False(CpuLatencyRequest.TryHold(TimeSpan.FromMicroseconds(microseconds), out var request, out string? error));
        Assert.Null(request);
        Assert.Contains("outside", error);
    }
}
