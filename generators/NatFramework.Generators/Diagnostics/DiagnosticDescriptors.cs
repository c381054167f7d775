using System.Linq;
using Microsoft.CodeAnalysis;
using NatFramework.Generators;

namespace NatFramework.Generators.Diagnostics;

/// <summary>Every diagnostic the generator reports. Each message says how to fix the problem.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "NatFramework";

    public static readonly DiagnosticDescriptor TranslatorNotPartial = new(
        "NAT0001", "Translator class must be partial",
        "Class '{0}' has [NatTranslator] but is not partial; declare it 'partial' so the generator can add the translator members",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor TranslatorNested = new(
        "NAT0002", "Translator class must not be nested",
        "Class '{0}' has [NatTranslator] but is nested in '{1}'; move it to namespace level",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor TranslatorGeneric = new(
        "NAT0003", "Translator class must not be generic",
        "Class '{0}' has [NatTranslator] but is generic; remove its type parameters (the store type is fixed by the attribute)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor StoreWithoutContract = new(
        "NAT0004", "Store type implements no store contract",
        "Store type '{0}' implements neither NatFramework.INatStore nor NatFramework.IAsyncNatStore; implement INatStore for an in-process store or IAsyncNatStore for a remote one",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor StoreWithBothContracts = new(
        "NAT0005", "Store type implements both store contracts",
        "Store type '{0}' implements both INatStore and IAsyncNatStore, so it is unclear which path to generate; implement only one",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor StoreNotSealed = new(
        "NAT0006", "Store type is not sealed",
        "Store type '{0}' is not a sealed class, so the translator's calls to it stay virtual; declare it 'sealed' for direct calls on the packet path",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor DuplicateAttribute = new(
        "NAT0007", "More than one NatTranslator attribute",
        "Class '{0}' has {1} [NatTranslator] attributes; keep one (declare one translator class per store)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor CapabilityWrongShape = new(
        "NAT0008", "Store capability member has the wrong shape",
        "Store '{0}' declares '{1}', which looks like the {2} capability but does not match; declare it as '{3}' or rename it",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor StoreNotAClass = new(
        "NAT0009", "Store type must be a class",
        "Store type '{0}' is {1}; the translator holds one store object and calls it by reference, so declare the store as a sealed class",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor TranslatorStatic = new(
        "NAT0010", "Translator class must not be static",
        "Class '{0}' has [NatTranslator] but is static; a translator is an object that owns its store, so remove 'static'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor StoreLessAccessible = new(
        "NAT0011", "Store type is less accessible than the translator",
        "Store type '{0}' is {1}, but translator '{2}' is {3} and takes the store in its constructor; {4}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor TranslatorRecord = new(
        "NAT0012", "Translator must be a plain class",
        "'{0}' has [NatTranslator] but is a record; declare it as 'partial class' (records add equality and members a translator must not have)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: GeneratorInfo.DiagnosticsHelp);

    public static readonly DiagnosticDescriptor[] All =
    [
        TranslatorNotPartial, TranslatorNested, TranslatorGeneric, StoreWithoutContract,
        StoreWithBothContracts, StoreNotSealed, DuplicateAttribute, CapabilityWrongShape,
        StoreNotAClass, TranslatorStatic, StoreLessAccessible, TranslatorRecord,
    ];

    public static DiagnosticDescriptor ById(string id) => All.First(d => d.Id == id);
}
