using System.Runtime.InteropServices;

namespace NatFramework;

/// <summary>
/// A store's short answer to a lookup: only what the packet needs, the flow it is rewritten to and which way it
/// travels. Twenty bytes instead of a whole <see cref="NatLookup"/>, so a lookup on the packet path copies little.
/// <c>default</c> is "not found".
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public readonly struct FlowRewrite
{
    /// <summary>The addresses and ports (identifier) the packet gets.</summary>
    public readonly FlowKey To;
    /// <summary>Which of the connection's two keys the packet matched.</summary>
    public readonly FlowDirection Direction;

    /// <summary>Creates a rewrite.</summary>
    /// <param name="to">The address to write.</param>
    /// <param name="direction">The direction of the packet.</param>
    public FlowRewrite(in FlowKey to, FlowDirection direction)
    {
        To = to;
        Direction = direction;
    }

    /// <summary>True when a connection was found (a real flow always has a protocol).</summary>
    public bool Found => To.Protocol != 0;

    /// <summary>The rewrite a full lookup answer stands for.</summary>
    /// <param name="lookup">A lookup's answer.</param>
    /// <returns>The rewrite the lookup's connection applies in the lookup's direction.</returns>
    public static FlowRewrite Of(in NatLookup lookup) => new(lookup.Rewrite, lookup.Direction);

    /// <inheritdoc/>
    public override string ToString() => Found ? $"{Direction} -> {To}" : "not found";
}
