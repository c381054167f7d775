using Microsoft.Extensions.Time.Testing;
using static NatFramework.StoreConformance.PacketFactory;

namespace NatFramework.StoreConformance;

/// <summary>
/// The behaviour every NAT store must show through its generated translator: mirage-nat's own scenarios, both
/// directions living and dying together, expiry, removal by host, port allocation and concurrency. A store's
/// test project inherits this class and implements <see cref="CreateTranslator"/>.
/// </summary>
public abstract partial class NatStoreConformanceTests : IDisposable
{
    /// <summary>The fake clock handed to every translator the suite creates.</summary>
    protected FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>What the store may do differently: declared with <see cref="StoreTraitsAttribute"/> on the test class.</summary>
    protected StoreTraits Traits => StoreTraitsAttribute.Of(GetType());

    /// <summary>Creates a translator over a new, empty store.</summary>
    /// <param name="options">The settings.</param>
    /// <param name="timeProvider">The clock (the system clock when null).</param>
    /// <returns>A translator over a new, empty store.</returns>
    protected abstract INatTranslator CreateTranslator(NatOptions options, TimeProvider timeProvider);

    /// <summary>Creates a translator with default options changed by <paramref name="configure"/>.</summary>
    /// <param name="configure">Changes the options after they are bound; may be null.</param>
    /// <returns>A translator over a new, empty store.</returns>
    protected INatTranslator NewTranslator(Action<NatOptions>? configure = null)
    {
        var options = new NatOptions();
        configure?.Invoke(options);
        return CreateTranslator(options, Clock);
    }

    /// <summary>Translates a copy of <paramref name="packet"/>; returns the result and the bytes after translation.</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The datagram.</param>
    /// <returns>The result and the bytes after translation.</returns>
    protected static async Task<(NatTranslateResult Result, byte[] Bytes)> TranslateCopy(INatTranslator translator, byte[] packet)
    {
        var copy = (byte[])packet.Clone();
        var result = await translator.TranslateAsync(copy);
        return (result, copy);
    }

    /// <summary>Asserts the packet translates to exactly <paramref name="expected"/>.</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The datagram.</param>
    /// <param name="expected">The state the caller last saw.</param>
    /// <param name="direction">The direction of the packet.</param>
    /// <returns>Completes when checked.</returns>
    protected static async Task AssertTranslatesTo(INatTranslator translator, byte[] packet, byte[] expected, FlowDirection direction)
    {
        var (result, bytes) = await TranslateCopy(translator, packet);
        Assert.Equal(NatTranslateStatus.Translated, result.Status);
        Assert.Equal(direction, result.Direction);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(bytes));
        AssertChecksumsValid(bytes);
    }

    /// <summary>Asserts the packet is not translated (and is left unchanged).</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The datagram.</param>
    /// <param name="reason">Why.</param>
    /// <param name="side">Where the packet arrives.</param>
    /// <returns>Completes when checked.</returns>
    protected static async Task AssertUntranslated(INatTranslator translator, byte[] packet, UntranslatedReason reason = UntranslatedReason.NoConnection,
        NatSide side = NatSide.Unknown)
    {
        var copy = (byte[])packet.Clone();
        var result = await translator.TranslateAsync(copy, side);
        var bytes = copy;
        Assert.Equal(NatTranslateStatus.Untranslated, result.Status);
        Assert.Equal(reason, result.Reason);
        Assert.Equal(packet, bytes);
    }

    /// <summary>Releases what the derived class created.</summary>
    /// <param name="disposing">True when called from Dispose.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Used by tests that need an address from a small pool.</summary>
    /// <param name="i">Which address: 0 to 199, wrapping.</param>
    /// <returns>An address of 198.51.100.0/24.</returns>
    protected static Ipv4Address Host(int i) => new(0xC6336400u + (uint)(i % 200) + 1); // 198.51.100.1 …
}
