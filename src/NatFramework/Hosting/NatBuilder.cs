using Microsoft.Extensions.DependencyInjection;

namespace NatFramework.Hosting;

/// <summary>Returned by <c>services.AddNat(...)</c>; store packages add <c>Use…Store(...)</c> extensions to it.</summary>
public sealed class NatBuilder
{
    internal NatBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection being configured.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Registers a translator as the <see cref="INatTranslator"/> (and, when it is one, <see cref="ISyncNatTranslator"/>)
    /// singleton. Store packages call this; so can a custom store's host.
    /// </summary>
    /// <typeparam name="TTranslator">The generated translator type.</typeparam>
    /// <param name="factory">Creates the translator from the service provider.</param>
    /// <returns>The builder, for chaining.</returns>
    public NatBuilder UseTranslator<TTranslator>(Func<IServiceProvider, TTranslator> factory) where TTranslator : class, INatTranslator
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.AddSingleton(factory);
        Services.AddSingleton<INatTranslator>(sp => sp.GetRequiredService<TTranslator>());
        if (typeof(ISyncNatTranslator).IsAssignableFrom(typeof(TTranslator)))
            Services.AddSingleton(sp => (ISyncNatTranslator)sp.GetRequiredService<TTranslator>());
        return this;
    }
}
