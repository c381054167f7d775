using NatFramework.Packets;
using Xunit;

namespace NatFramework.Tests.Translation;

/// <summary>The result is one packed word: every field must come back as it went in, and equality must be by value.</summary>
public sealed class NatTranslateResultTests
{
    [Fact]
    public void Every_field_round_trips()
    {
        foreach (var status in Enum.GetValues<NatTranslateStatus>())
        foreach (var reason in Enum.GetValues<UntranslatedReason>())
        foreach (var error in Enum.GetValues<PacketError>())
        foreach (var direction in Enum.GetValues<FlowDirection>())
        foreach (bool created in new[] { false, true })
        {
            var result = new NatTranslateResult(status, reason, error, direction, created);
            Assert.Equal((status, reason, error, direction, created), (result.Status, result.Reason, result.Error, result.Direction, result.Created));
            Assert.Equal(new NatTranslateResult(status, reason, error, direction, created), result);
        }
    }

    [Fact]
    public void Extreme_byte_values_stay_in_their_fields()
    {
        var result = new NatTranslateResult((NatTranslateStatus)0xFF, (UntranslatedReason)0xFF, (PacketError)0xFF, (FlowDirection)0xFF, created: false);
        Assert.Equal((NatTranslateStatus)0xFF, result.Status);
        Assert.Equal((UntranslatedReason)0xFF, result.Reason);
        Assert.Equal((PacketError)0xFF, result.Error);
        Assert.Equal((FlowDirection)0xFF, result.Direction);
        Assert.False(result.Created);
    }

    [Fact]
    public void Equality_is_by_every_field()
    {
        var translated = NatTranslateResult.Translated(FlowDirection.Reply);
        Assert.NotEqual(translated, translated.AsCreated());
        Assert.NotEqual(translated, NatTranslateResult.Translated(FlowDirection.Outbound));
        Assert.NotEqual(NatTranslateResult.Untranslated(UntranslatedReason.NoConnection), NatTranslateResult.Untranslated(UntranslatedReason.Filtered));
        Assert.NotEqual(NatTranslateResult.Dropped(PacketError.BadHeaderChecksum), NatTranslateResult.Dropped(PacketError.TruncatedUdpHeader));
        Assert.True(translated.AsCreated() == NatTranslateResult.Translated(FlowDirection.Reply).AsCreated());
        Assert.Equal(translated.AsCreated().GetHashCode(), NatTranslateResult.Translated(FlowDirection.Reply).AsCreated().GetHashCode());
        Assert.Equal(new NatTranslateResult(NatTranslateStatus.Translated), default);
    }
}
