namespace NatFramework.Stores.Redis.Tests;

/// <summary>Logged text is text: the store's keys are binary, and client error messages quote them raw.</summary>
public sealed class RedisStoreLogTests
{
    [Fact]
    public void Binary_key_bytes_in_a_reason_are_written_as_escapes()
    {
        string raw = "Timeout awaiting response, command=EVALSHA, key: {nat}:k:\u0011\n\u0000\u00FF\u2603 end";

        Assert.Equal("Timeout awaiting response, command=EVALSHA, key: {nat}:k:\\x11\\x0A\\x00\\xFF\\u2603 end", RedisStoreLog.Printable(raw));
        Assert.Same("plain text", RedisStoreLog.Printable("plain text"));
    }

    [Fact]
    public void A_reason_includes_the_inner_exception_printably()
    {
        var e = new TimeoutException("No connection", new IOException("reset while sending {nat}:k:\u0001"));

        Assert.Equal("No connection (reset while sending {nat}:k:\\x01)", RedisStoreLog.ReasonOf(e));
    }
}
