namespace NatFramework;

/// <summary>
/// <c>AddNat</c> and <c>AddRedirect</c> through the translator's configured public address
/// (<see cref="NatOptions.PublicAddress"/>), for hosts that have one public address and keep it in configuration.
/// </summary>
public static class NatTranslatorExtensions
{
    /// <summary>Source NAT of <paramref name="packet"/>'s flow through <see cref="NatOptions.PublicAddress"/>.</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="ports">Chooses the public port; the translator's allocator when null.</param>
    /// <returns>As <see cref="ISyncNatTranslator.AddNat"/>.</returns>
    /// <exception cref="InvalidOperationException">The translator's options set no public address.</exception>
    public static NatAddResult AddNat(this ISyncNatTranslator translator, ReadOnlySpan<byte> packet, IPortAllocator? ports = null)
        => translator.AddNat(packet, PublicAddressOf(translator), ports);

    /// <summary>Destination NAT: <paramref name="packet"/>'s flow goes to <paramref name="target"/>:<paramref name="targetPort"/> from <see cref="NatOptions.PublicAddress"/>.</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="target">The inside host.</param>
    /// <param name="targetPort">The port on it (not 0).</param>
    /// <param name="ports">Chooses the source port; the translator's allocator when null.</param>
    /// <returns>As <see cref="ISyncNatTranslator.AddRedirect"/>.</returns>
    /// <exception cref="InvalidOperationException">The translator's options set no public address.</exception>
    public static NatAddResult AddRedirect(this ISyncNatTranslator translator, ReadOnlySpan<byte> packet, Ipv4Address target, ushort targetPort, IPortAllocator? ports = null)
        => translator.AddRedirect(packet, PublicAddressOf(translator), target, targetPort, ports);

    /// <summary>Source NAT of <paramref name="packet"/>'s flow through <see cref="NatOptions.PublicAddress"/>.</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="ports">Chooses the public port; the translator's allocator when null.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>As <see cref="INatTranslator.AddNatAsync"/>.</returns>
    /// <exception cref="InvalidOperationException">The translator's options set no public address.</exception>
    public static ValueTask<NatAddResult> AddNatAsync(this INatTranslator translator, ReadOnlyMemory<byte> packet, IPortAllocator? ports = null,
        CancellationToken cancellationToken = default)
        => translator.AddNatAsync(packet, PublicAddressOf(translator), ports, cancellationToken);

    /// <summary>Destination NAT: <paramref name="packet"/>'s flow goes to <paramref name="target"/>:<paramref name="targetPort"/> from <see cref="NatOptions.PublicAddress"/>.</summary>
    /// <param name="translator">The translator.</param>
    /// <param name="packet">The flow's first packet (not changed).</param>
    /// <param name="target">The inside host.</param>
    /// <param name="targetPort">The port on it (not 0).</param>
    /// <param name="ports">Chooses the source port; the translator's allocator when null.</param>
    /// <param name="cancellationToken">Cancels waiting for a remote store.</param>
    /// <returns>As <see cref="INatTranslator.AddRedirectAsync"/>.</returns>
    /// <exception cref="InvalidOperationException">The translator's options set no public address.</exception>
    public static ValueTask<NatAddResult> AddRedirectAsync(this INatTranslator translator, ReadOnlyMemory<byte> packet, Ipv4Address target, ushort targetPort,
        IPortAllocator? ports = null, CancellationToken cancellationToken = default)
        => translator.AddRedirectAsync(packet, PublicAddressOf(translator), target, targetPort, ports, cancellationToken);

    private static Ipv4Address PublicAddressOf(INatTranslator translator)
    {
        ArgumentNullException.ThrowIfNull(translator);
        var address = translator.Options.PublicAddress;
        return address != Ipv4Address.Any ? address
            : throw new InvalidOperationException("NatOptions.PublicAddress is not set: set it (\"Nat\": { \"PublicAddress\": \"198.51.100.1\" }) or pass the public address to AddNat/AddRedirect.");
    }
}
