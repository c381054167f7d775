using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace NatFramework.Tests.Translation;

public sealed class ServiceRegistrationTests
{
    [Fact]
    public void AddNat_registers_validated_options_and_a_translator_chosen_by_the_store()
    {
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1"))
            .UseTranslator(sp => new RecordingTranslator(new RecordingStore(), sp.GetRequiredService<IOptions<NatOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        using var provider = services.BuildServiceProvider();

        var translator = provider.GetRequiredService<INatTranslator>();

        Assert.Same(translator, provider.GetRequiredService<ISyncNatTranslator>());
        Assert.Equal(Ipv4Address.Parse("198.51.100.1"), translator.Options.PublicAddress);
    }

    [Fact]
    public void Invalid_options_fail_with_a_message_naming_the_setting()
    {
        var services = new ServiceCollection();
        services.AddNat(o => o.IcmpTimeout = TimeSpan.FromSeconds(-1));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<NatOptions>>().Value);
        Assert.Contains("IcmpTimeout", error.Message);
    }
}
