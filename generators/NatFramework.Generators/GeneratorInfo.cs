using System.Reflection;

namespace NatFramework.Generators;

internal static class GeneratorInfo
{
    /// <summary>
    /// The generator's version as the build stamped it (the package version; a source-control suffix after '+'
    /// dropped so generated code does not change with every commit), for <c>[GeneratedCode]</c>.
    /// </summary>
    public static readonly string Version =
        typeof(GeneratorInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(GeneratorInfo).Assembly.GetName().Version?.ToString(3)
        ?? "0.0.0";

    /// <summary>Where the diagnostics are explained: the README's section on declaring a translator.</summary>
    public const string DiagnosticsHelp = "https://github.com/natframework/natframework/blob/main/README.md#declaring-a-translator-for-a-store";
}
