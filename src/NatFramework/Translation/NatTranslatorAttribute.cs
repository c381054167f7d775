namespace NatFramework;

/// <summary>
/// Asks the NatFramework source generator for a translator specialised to a store:
/// <code>[NatTranslator(typeof(MyStore))] public sealed partial class MyNat;</code>
/// The class must be partial, top-level and non-generic; the store must implement exactly one of
/// <see cref="INatStore"/> and <see cref="IAsyncNatStore"/>, and should be sealed so calls are direct.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class NatTranslatorAttribute : Attribute
{
    /// <summary>Declares the store type the translator is generated for.</summary>
    /// <param name="storeType">The store type the translator is generated for.</param>
    public NatTranslatorAttribute(Type storeType) => StoreType = storeType;

    /// <summary>The store type.</summary>
    public Type StoreType { get; }
}
