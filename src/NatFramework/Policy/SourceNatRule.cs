namespace NatFramework;

/// <summary>A source-NAT rule: a new flow from a host in <see cref="Inside"/> leaves with <see cref="PublicAddress"/> as its source.</summary>
/// <param name="Inside">The inside network whose hosts the rule translates.</param>
/// <param name="PublicAddress">The address they are translated to.</param>
public sealed record SourceNatRule(Ipv4Prefix Inside, Ipv4Address PublicAddress)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Inside} -> {PublicAddress}";
}
