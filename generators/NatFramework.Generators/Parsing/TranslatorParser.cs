using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NatFramework.Generators.Diagnostics;
using NatFramework.Generators.Model;

namespace NatFramework.Generators.Parsing;

/// <summary>Turns one <c>[NatTranslator]</c> class into a <see cref="TranslatorModel"/> and diagnostics. Symbols stay here.</summary>
internal static class TranslatorParser
{
    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat;

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var translator = (INamedTypeSymbol)context.TargetSymbol;
        var declaration = (TypeDeclarationSyntax)context.TargetNode;
        var nameLocation = declaration.Identifier.GetLocation();
        bool canGenerate = true;

        if (context.Attributes.Length > 1)
        {
            var second = context.Attributes[1].ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateAttribute, second ?? nameLocation,
                translator.Name, context.Attributes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            canGenerate = false;
        }
        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TranslatorNotPartial, nameLocation, translator.Name));
            canGenerate = false;
        }
        if (translator.ContainingType is { } container)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TranslatorNested, nameLocation, translator.Name, container.Name));
            canGenerate = false;
        }
        if (translator.TypeParameters.Length > 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TranslatorGeneric, nameLocation, translator.Name));
            canGenerate = false;
        }
        if (translator.IsStatic)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TranslatorStatic, nameLocation, translator.Name));
            canGenerate = false;
        }
        if (declaration is RecordDeclarationSyntax)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TranslatorRecord, nameLocation, translator.Name));
            canGenerate = false;
        }

        // A typeof that does not bind is already a compiler error; nothing more to say.
        var attribute = context.Attributes[0];
        if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not INamedTypeSymbol store || store.TypeKind == TypeKind.Error)
            return new ParseResult(null, ToArray(diagnostics));

        var attributeLocation = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation() ?? nameLocation;
        if (store.TypeKind != TypeKind.Class)
        {
            // Checked before the contracts: an interface type does not "implement" itself, and a struct would be copied.
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StoreNotAClass, attributeLocation, store.ToDisplayString(), KindOf(store)));
            return new ParseResult(null, ToArray(diagnostics));
        }
        if (AccessProblem(store, translator) is { } problem)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StoreLessAccessible, attributeLocation,
                store.ToDisplayString(), problem.Store, translator.Name, problem.Translator, problem.Fix));
            canGenerate = false;
        }
        var compilation = context.SemanticModel.Compilation;
        var syncContract = compilation.GetTypeByMetadataName(KnownTypes.SyncStore);
        var asyncContract = compilation.GetTypeByMetadataName(KnownTypes.AsyncStore);
        bool isSync = Implements(store, syncContract);
        bool isAsync = Implements(store, asyncContract);
        string storeName = store.ToDisplayString();

        if (isSync && isAsync)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StoreWithBothContracts, attributeLocation, storeName));
            return new ParseResult(null, ToArray(diagnostics));
        }
        if (!isSync && !isAsync)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StoreWithoutContract, attributeLocation, storeName));
            return new ParseResult(null, ToArray(diagnostics));
        }
        if (!store.IsSealed)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StoreNotSealed, attributeLocation, storeName));

        var contract = ContractAccess(store, isSync ? syncContract! : asyncContract!);
        var batch = CapabilityAccess(store, isSync ? Capability.BatchLookup : Capability.AsyncBatchLookup, compilation, attributeLocation, diagnostics, ref canGenerate);
        // Rewrite lookups answer on the packet path of a synchronous store; an asynchronous store's members are not looked at.
        var rewrite = isSync ? CapabilityAccess(store, Capability.RewriteLookup, compilation, attributeLocation, diagnostics, ref canGenerate) : MemberAccess.Absent;
        var rewriteBatch = isSync ? CapabilityAccess(store, Capability.RewriteBatchLookup, compilation, attributeLocation, diagnostics, ref canGenerate) : MemberAccess.Absent;
        var hostIndex = CapabilityAccess(store, isSync ? Capability.HostIndex : Capability.AsyncHostIndex, compilation, attributeLocation, diagnostics, ref canGenerate);
        var expiry = CapabilityAccess(store, Capability.NativeExpiry, compilation, attributeLocation, diagnostics, ref canGenerate);
        var statistics = CapabilityAccess(store, isSync ? Capability.Statistics : Capability.AsyncStatistics, compilation, attributeLocation, diagnostics, ref canGenerate);
        var portClasses = CapabilityAccess(store, Capability.PortClasses, compilation, attributeLocation, diagnostics, ref canGenerate);

        if (!canGenerate) return new ParseResult(null, ToArray(diagnostics));

        var model = new TranslatorModel(
            Namespace: translator.ContainingNamespace.IsGlobalNamespace ? "" : translator.ContainingNamespace.ToDisplayString(),
            ClassName: translator.Name,
            Accessibility: translator.DeclaredAccessibility == Accessibility.Public ? "public" : "internal",
            StoreType: store.ToDisplayString(TypeFormat),
            StoreName: store.Name,
            IsAsync: isAsync,
            Contract: contract,
            BatchLookup: batch,
            RewriteLookup: rewrite,
            RewriteBatchLookup: rewriteBatch,
            HostIndex: hostIndex,
            NativeExpiry: expiry,
            Statistics: statistics,
            PortClasses: portClasses);
        return new ParseResult(model, ToArray(diagnostics));
    }

    private static string KindOf(INamedTypeSymbol type) => type.TypeKind switch
    {
        TypeKind.Struct => "a struct",
        TypeKind.Interface => "an interface",
        TypeKind.Enum => "an enum",
        TypeKind.Delegate => "a delegate",
        _ => "not a class",
    };

    /// <summary>
    /// Why the generated translator, a namespace-level class of the translator's accessibility whose constructor takes
    /// the store, could not compile against <paramref name="store"/>; null when it can.
    /// </summary>
    private static (string Store, string Translator, string Fix)? AccessProblem(INamedTypeSymbol store, INamedTypeSymbol translator)
    {
        if (store.IsFileLocal)
            return ("file-local", Describe(translator.DeclaredAccessibility), "a file-local type cannot be seen from the generated file: remove 'file' from the store");
        // A private or protected nested store cannot even be named in the attribute of a namespace-level class (the
        // compiler says so); what remains is a public translator over a store the assembly keeps to itself.
        if (translator.DeclaredAccessibility == Accessibility.Public && EffectiveAccessibility(store) != Accessibility.Public)
            return ("internal", "public", "make the translator internal or the store public");
        return null;
    }

    private static Accessibility EffectiveAccessibility(INamedTypeSymbol type)
    {
        var result = Accessibility.Public;
        for (INamedTypeSymbol? current = type; current is not null; current = current.ContainingType)
        {
            var access = current.DeclaredAccessibility == Accessibility.ProtectedOrInternal ? Accessibility.Internal : current.DeclaredAccessibility;
            if (Rank(access) < Rank(result)) result = access;
        }
        return result;
    }

    private static int Rank(Accessibility access) => access switch
    {
        Accessibility.Public => 4,
        Accessibility.Internal => 3,
        Accessibility.Protected => 2,
        Accessibility.ProtectedAndInternal => 1,
        _ => 0,
    };

    private static string Describe(Accessibility access) => access == Accessibility.Public ? "public" : "internal";

    private static EquatableArray<DiagnosticInfo> ToArray(List<DiagnosticInfo> diagnostics) => new(diagnostics.ToArray());

    private static bool Implements(INamedTypeSymbol type, INamedTypeSymbol? contract)
        => contract is not null && type.AllInterfaces.Contains(contract, SymbolEqualityComparer.Default);

    /// <summary>Direct when every contract member is implemented by a public member of the same name (not explicitly).</summary>
    private static MemberAccess ContractAccess(INamedTypeSymbol store, INamedTypeSymbol contract)
    {
        foreach (var member in contract.GetMembers())
        {
            var implementation = store.FindImplementationForInterfaceMember(member);
            if (implementation is null || implementation.DeclaredAccessibility != Accessibility.Public || implementation.Name != member.Name)
                return MemberAccess.ViaInterface;
        }
        return MemberAccess.Direct;
    }

    private static MemberAccess CapabilityAccess(INamedTypeSymbol store, Capability capability, Compilation compilation,
        Location location, List<DiagnosticInfo> diagnostics, ref bool canGenerate)
    {
        var candidates = PublicInstanceMethods(store, capability.MemberName).ToList();
        if (candidates.Any(m => Matches(m, capability))) return MemberAccess.Direct;
        if (Implements(store, compilation.GetTypeByMetadataName(capability.InterfaceName))) return MemberAccess.ViaInterface;
        if (candidates.Count > 0)
        {
            var wrong = candidates[0];
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.CapabilityWrongShape, wrong.Locations.FirstOrDefault(l => l.IsInSource) ?? location,
                store.ToDisplayString(), wrong.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat), capability.Name, capability.Display));
            canGenerate = false;
        }
        return MemberAccess.Absent;
    }

    private static IEnumerable<IMethodSymbol> PublicInstanceMethods(INamedTypeSymbol type, string name)
    {
        for (var current = type; current is not null; current = current.BaseType)
            foreach (var member in current.GetMembers(name))
                if (member is IMethodSymbol { IsStatic: false, DeclaredAccessibility: Accessibility.Public, MethodKind: MethodKind.Ordinary } method)
                    yield return method;
    }

    private static bool Matches(IMethodSymbol method, Capability capability)
    {
        if (method.TypeParameters.Length != 0 || method.Parameters.Length != capability.Parameters.Length) return false;
        if (method.ReturnType.ToDisplayString(TypeFormat) != capability.ReturnType || method.ReturnsByRef) return false;
        for (int i = 0; i < method.Parameters.Length; i++)
        {
            var parameter = method.Parameters[i];
            string prefix = parameter.RefKind switch { RefKind.In => "in ", RefKind.Ref => "ref ", RefKind.Out => "out ", _ => "" };
            var type = parameter.Type.WithNullableAnnotation(NullableAnnotation.NotAnnotated);
            if (prefix + type.ToDisplayString(TypeFormat) != capability.Parameters[i]) return false;
        }
        return true;
    }
}
