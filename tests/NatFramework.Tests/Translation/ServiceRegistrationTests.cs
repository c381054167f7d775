using Microsoft.Extensions.Configuration;
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
        services.AddNat(o => (o.PublicAddress, o.IcmpTimeout) = (Ipv4Address.Parse("198.51.100.1"), TimeSpan.FromSeconds(-1)));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<NatOptions>>().Value);
        Assert.Contains("IcmpTimeout", error.Message);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values)
        => new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Options_bind_from_configuration_with_addresses_prefixes_and_policy_rules_as_text()
    {
        var configuration = Configuration(
            ("Nat:PublicAddress", "198.51.100.1"),
            ("Nat:UdpTimeout", "00:02:00"),
            ("Nat:Policy:SourceNat:0:Inside", "10.77.0.0/24"),
            ("Nat:Policy:SourceNat:0:PublicAddress", "198.51.100.1"),
            ("Nat:Policy:UdpFiltering", "EndpointIndependent"),
            ("Nat:Policy:UdpConnectionsPerHost", "100"),
            ("Nat:Policy:PortForwards:0:Protocol", "Tcp"),
            ("Nat:Policy:PortForwards:0:PublicAddress", "198.51.100.1"),
            ("Nat:Policy:PortForwards:0:PublicPort", "8080"),
            ("Nat:Policy:PortForwards:0:Target", "10.77.0.2"),
            ("Nat:Policy:PortForwards:0:TargetPort", "80"),
            ("Nat:Policy:PortForwards:0:SourceAddress", "10.77.0.1"));
        var services = new ServiceCollection();
        services.AddNat(configuration.GetSection("Nat"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<NatOptions>>().Value;

        Assert.Equal(Ipv4Address.Parse("198.51.100.1"), options.PublicAddress);
        Assert.Equal(TimeSpan.FromMinutes(2), options.UdpTimeout);
        Assert.Equal(new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Ipv4Address.Parse("198.51.100.1")), Assert.Single(options.Policy.SourceNat));
        Assert.Equal(new PortForwardRule(NatProtocol.Tcp, Ipv4Address.Parse("198.51.100.1"), 8080, Ipv4Address.Parse("10.77.0.2"), 80, Ipv4Address.Parse("10.77.0.1")),
            Assert.Single(options.Policy.PortForwards));
        Assert.Equal(NatFilteringBehavior.EndpointIndependent, options.Policy.UdpFiltering);
        Assert.Equal(100, options.Policy.UdpConnectionsPerHost);
        Assert.Equal(NatMappingBehavior.EndpointIndependent, options.Policy.UdpMapping); // a policy's defaults, not NatPolicy.None's
        Assert.True(options.Policy.Hairpinning);
        // Binding changed a copy: the shared mirage-nat policy is as it was.
        Assert.Empty(NatPolicy.None.SourceNat);
        Assert.Equal(NatFilteringBehavior.AddressAndPortDependent, NatPolicy.None.UdpFiltering);
    }

    [Theory]
    [InlineData("Nat:PublicAddress", "198.51.100")]
    [InlineData("Nat:Policy:SourceNat:0:Inside", "10.77.0.0/33")]
    public void Text_that_is_no_address_or_prefix_fails_naming_the_key_instead_of_becoming_zero(string key, string value)
    {
        var services = new ServiceCollection();
        services.AddNat(Configuration((key, value), ("Nat:Policy:SourceNat:0:PublicAddress", "198.51.100.1")).GetSection("Nat"));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IOptions<NatOptions>>().Value);

        Assert.Contains(key.Split(':')[^1], error.Message + error.InnerException?.Message);
        Assert.Contains(value, error.ToString());
    }

    [Fact]
    public void Ipv4_types_convert_from_and_to_text_through_type_descriptors()
    {
        var address = System.ComponentModel.TypeDescriptor.GetConverter(typeof(Ipv4Address));
        var prefix = System.ComponentModel.TypeDescriptor.GetConverter(typeof(Ipv4Prefix));

        Assert.Equal(Ipv4Address.Parse("192.0.2.7"), address.ConvertFromInvariantString(" 192.0.2.7 "));
        Assert.Equal("192.0.2.7", address.ConvertToInvariantString(Ipv4Address.Parse("192.0.2.7")));
        Assert.Equal(Ipv4Prefix.Parse("10.0.0.0/8"), prefix.ConvertFromInvariantString("10.0.0.0/8"));
        Assert.Equal("10.0.0.0/8", prefix.ConvertToInvariantString(Ipv4Prefix.Parse("10.0.0.0/8")));
        Assert.Throws<FormatException>(() => address.ConvertFromInvariantString("300.1.1.1"));
    }

    [Fact]
    public void A_registered_translator_with_no_public_address_and_no_rule_is_a_start_up_error()
    {
        var services = new ServiceCollection();
        services.AddNat(Configuration(("Nat:UdpTimeout", "00:02:00")).GetSection("Nat"))
            .UseTranslator(sp => new RecordingTranslator(new RecordingStore(), sp.GetRequiredService<IOptions<NatOptions>>().Value));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<INatTranslator>());

        Assert.Contains("NatOptions.PublicAddress", error.Message);
        Assert.Contains("could never translate", error.Message);
    }

    [Fact]
    public void A_policy_rule_is_enough_without_a_public_address()
    {
        var services = new ServiceCollection();
        services.AddNat(Configuration(("Nat:Policy:SourceNat:0:Inside", "10.77.0.0/24"), ("Nat:Policy:SourceNat:0:PublicAddress", "198.51.100.1")).GetSection("Nat"))
            .UseTranslator(sp => new RecordingTranslator(new RecordingStore(), sp.GetRequiredService<IOptions<NatOptions>>().Value));
        using var provider = services.BuildServiceProvider();

        Assert.Single(provider.GetRequiredService<INatTranslator>().Policy.SourceNat);
    }

    [Fact]
    public async Task AddNat_and_AddRedirect_without_an_address_use_the_configured_public_address()
    {
        var nat = new RecordingTranslator(new RecordingStore(), new NatOptions { PublicAddress = Ipv4Address.Parse("198.51.100.1") });
        var packet = NatFramework.Packets.Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Ipv4Address.Parse("203.0.113.1"), 53, "q"u8);
        var inbound = NatFramework.Packets.Ipv4PacketBuilder.Udp(Ipv4Address.Parse("203.0.113.1"), 5000, Ipv4Address.Parse("198.51.100.1"), 8080, "q"u8);

        Assert.Equal(Ipv4Address.Parse("198.51.100.1"), nat.AddNat(packet).Connection.Translated.Source);
        Assert.True((await nat.AddRedirectAsync(inbound, Ipv4Address.Parse("10.77.0.9"), 80)).IsOk);

        var unset = new RecordingTranslator(new RecordingStore());
        var error = Assert.Throws<InvalidOperationException>(() => unset.AddNat(packet));
        Assert.Contains("NatOptions.PublicAddress is not set", error.Message);
    }
}
