using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using NatFramework;
using NatFramework.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers NatFramework with dependency injection: <c>services.AddNat(o => ...).UseLruStore()</c>.</summary>
public static class NatServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="NatOptions"/> (validated when first resolved, with a message naming the setting to fix)
    /// and <see cref="TimeProvider.System"/> unless a <see cref="TimeProvider"/> is registered. Pick a store next.
    /// </summary>
    public static NatBuilder AddNat(this IServiceCollection services, Action<NatOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsBuilder = services.AddOptions<NatOptions>();
        if (configure is not null) optionsBuilder.Configure(configure);
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
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException e)
            {
                return ValidateOptionsResult.Fail(e.Message);
            }
        }
    }
}
