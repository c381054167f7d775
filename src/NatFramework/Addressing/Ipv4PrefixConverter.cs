using System.ComponentModel;
using System.Globalization;

namespace NatFramework;

/// <summary>
/// Converts <see cref="Ipv4Prefix"/> from and to its text form, so configuration binding, property grids and other
/// <see cref="TypeDescriptor"/> users read <c>"10.0.0.0/8"</c> as the value it names. Text that is not one is an
/// error (a <see cref="FormatException"/> that names it), never a silent default.
/// </summary>
public sealed class Ipv4PrefixConverter : TypeConverter
{
    /// <inheritdoc/>
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
        => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    /// <inheritdoc/>
    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
        => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    /// <inheritdoc/>
    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
        => value is string text ? Ipv4Prefix.Parse(text.Trim()) : base.ConvertFrom(context, culture, value);

    /// <inheritdoc/>
    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => destinationType == typeof(string) && value is Ipv4Prefix typed ? typed.ToString() : base.ConvertTo(context, culture, value, destinationType);
}
