namespace NatFramework.Generators;

internal static class GeneratorInfo
{
    /// <summary>Stamped into <c>[GeneratedCode]</c>; kept in step with the package version.</summary>
    public const string Version = "0.1.0";
}
