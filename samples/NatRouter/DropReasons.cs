using System.Text;
using NatFramework;
using NatFramework.Packets;

namespace NatRouter;

/// <summary>
/// Why a router dropped a packet, as small integers (counter slots) with kebab-case names for logs and metrics: the
/// router's own reasons, then one per <see cref="PacketError"/> (malformed or unreassemblable packets), then one per
/// <see cref="UntranslatedReason"/> (packets the NAT would not translate, e.g. <c>no-connection</c> for unsolicited
/// inbound traffic). Names are made once, so counting a flood of bad packets allocates nothing.
/// </summary>
public static class DropReasons
{
    /// <summary>An offloaded frame shorter than its virtio-net header, or whose header names an impossible checksum place.</summary>
    public const int BadOffloadHeader = 0;

    /// <summary>Larger than the MTU with Don't Fragment set: answered with ICMP Fragmentation Needed.</summary>
    public const int TooBig = 1;

    /// <summary>TTL would reach 0: answered with ICMP Time Exceeded.</summary>
    public const int TtlExceeded = 2;

    /// <summary>The store did not answer (e.g. Redis down).</summary>
    public const int StoreUnavailable = 3;

    /// <summary>The outgoing interface refused the packet (down, or moving between namespaces).</summary>
    public const int WriteFailed = 4;

    /// <summary>The packet could not be cut to the MTU.</summary>
    public const int FragmentationFailed = 5;

    private const int RouterReasons = 6;
    private static readonly int PacketErrorBase = RouterReasons;
    private static readonly int UntranslatedBase = PacketErrorBase + 256;
    private static readonly string[] Names = BuildNames();

    /// <summary>How many reason slots there are.</summary>
    public static int Count => Names.Length;

    /// <summary>The reason slot of a malformed packet.</summary>
    public static int Of(PacketError error) => PacketErrorBase + (byte)error;

    /// <summary>The reason slot of an untranslated packet.</summary>
    public static int Of(UntranslatedReason reason) => UntranslatedBase + (byte)reason;

    /// <summary>The name of a reason slot.</summary>
    public static string Name(int reason) => Names[reason] ?? "reason-" + reason;

    private static string[] BuildNames()
    {
        var names = new string[UntranslatedBase + 256];
        string[] own = ["bad-offload-header", "too-big", "ttl-exceeded", "store-unavailable", "write-failed", "fragmentation-failed"];
        own.CopyTo(names, 0);
        foreach (var error in Enum.GetValues<PacketError>()) names[Of(error)] = Kebab(error.ToString());
        foreach (var reason in Enum.GetValues<UntranslatedReason>()) names[Of(reason)] = Kebab(reason.ToString());
        return names;
    }

    /// <summary>NoConnection → no-connection.</summary>
    private static string Kebab(string pascal)
    {
        var name = new StringBuilder(pascal.Length + 4);
        foreach (char c in pascal)
        {
            if (char.IsUpper(c) && name.Length > 0) name.Append('-');
            name.Append(char.ToLowerInvariant(c));
        }
        return name.ToString();
    }
}
