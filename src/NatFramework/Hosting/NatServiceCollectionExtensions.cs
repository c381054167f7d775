using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers NatFramework with dependency injection: <c>services.AddNat(o => ...).UseLruStore()</c>.</summary>
public static class NatServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="NatOptions"/> (validated when first resolved and, under a host, when it starts, with a message
    /// naming the setting to fix; options with neither a <see cref="NatOptions.PublicAddress"/> nor a rule in their policy
    /// fail, since such a translator could never translate)
    /// and <see cref="TimeProvider.System"/> unless a <see cref="TimeProvider"/> is registered. Pick a store next.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Changes the options; applied after the configuration. May be null.</param>
    /// <returns>A builder to choose the store with.</returns>
    public static NatBuilder AddNat(this IServiceCollection services, Action<NatOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsBuilder = services.AddOptions<NatOptions>();
        if (configure is not null) optionsBuilder.Configure(configure);
        return Finish(services, optionsBuilder);
    }

    /// <summary>
    /// Adds <see cref="NatOptions"/> bound from <paramref name="configuration"/> (a section such as <c>"Nat"</c>;
    /// addresses and prefixes as text: <c>"PublicAddress": "198.51.100.1"</c>, <c>"Policy": { "SourceNat": [ { "Inside":
    /// "10.77.0.0/24", "PublicAddress": "198.51.100.1" } ] }</c>; a policy section starts from a <c>new NatPolicy()</c>'s
    /// defaults), then changed by <paramref name="configure"/>. Text that
    /// is not an address or prefix fails the binding with the key it came from; the options are validated when first
    /// resolved and, under a host, when it starts.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section of the options (e.g. <c>configuration.GetSection("Nat")</c>).</param>
    /// <param name="configure">Changes the options; applied after the configuration. May be null.</param>
    /// <returns>A builder to choose the store with.</returns>
    public static NatBuilder AddNat(this IServiceCollection services, IConfiguration configuration, Action<NatOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var optionsBuilder = services.AddOptions<NatOptions>().Configure(options =>
        {
            // A policy written in configuration starts from RFC 4787's recommendations, as `new NatPolicy { … }` does, not
            // from mirage-nat's NatPolicy.None; and the binder binds into the object a property already holds, so it
            // gets a copy, never a shared instance.
            options.Policy = configuration.GetSection(nameof(NatOptions.Policy)).Exists() && ReferenceEquals(options.Policy, NatPolicy.None)
                ? new NatPolicy()
                : options.Policy with { };
            configuration.Bind(options);
            var policy = configuration.GetSection(nameof(NatOptions.Policy));
            RequireEveryEntryBound<SourceNatRule>(policy.GetSection(nameof(NatPolicy.SourceNat)), options.Policy.SourceNat.Count);
            RequireEveryEntryBound<PortForwardRule>(policy.GetSection(nameof(NatPolicy.PortForwards)), options.Policy.PortForwards.Count);
        });
        if (configure is not null) optionsBuilder.Configure(configure);
        return Finish(services, optionsBuilder);
    }

    /// <summary>
    /// The configuration binder leaves out a list entry it cannot read, silently; a NAT rule left out is a security
    /// matter (a forward missing, a network not translated), so an entry that did not bind is an error naming its key.
    /// </summary>
    private static void RequireEveryEntryBound<TRule>(IConfigurationSection list, int bound)
    {
        var entries = list.GetChildren().ToList();
        if (entries.Count == bound) return;
        foreach (var entry in entries) entry.Get<TRule>(); // throws for the entry that cannot be read, naming its key and value
        throw new InvalidOperationException($"Configuration '{list.Path}' has {entries.Count} entries, of which only {bound} could be read as {typeof(TRule).Name}.");
    }

    private static NatBuilder Finish(IServiceCollection services, OptionsBuilder<NatOptions> optionsBuilder)
    {
        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NatOptions>, NatOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        return new NatBuilder(services);
    }

    private sealed class NatOptionsValidator : IValidateOptions<NatOptions>
    {
        public ValidateOptionsResult Validate(string? name, NatOptions options)
        {
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                return ValidateOptionsResult.Fail(e.Message);
            }
            // A registered translator is there to translate: with no address to translate to it never could, and
            // every packet would be refused without a word. (A translator built by hand may take its addresses per call.)
            if (options.PublicAddress == Ipv4Address.Any && options.Policy.SourceNat.Count == 0 && options.Policy.PortForwards.Count == 0)
                return ValidateOptionsResult.Fail("No public address: set NatOptions.PublicAddress (\"Nat\": { \"PublicAddress\": \"198.51.100.1\" }) " +
                    "or give the policy a SourceNat rule or a PortForward; as configured, this translator could never translate a packet.");
            return ValidateOptionsResult.Success;
        }
    }
}
