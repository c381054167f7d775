using System.Collections.Concurrent;

namespace NatRouter;

/// <summary>Packet counters of a router: per direction, connections added, and drops by reason.</summary>
public sealed class RouterCounters
{
    private long _fromInside, _fromOutside, _toInside, _toOutside, _added;
    private readonly ConcurrentDictionary<string, long> _dropped = new();

    /// <summary>Packets read from the private interface.</summary>
    public long ReceivedFromInside => Interlocked.Read(ref _fromInside);

    /// <summary>Packets read from the public interface.</summary>
    public long ReceivedFromOutside => Interlocked.Read(ref _fromOutside);

    /// <summary>Packets written to the private interface.</summary>
    public long SentToInside => Interlocked.Read(ref _toInside);

    /// <summary>Packets written to the public interface.</summary>
    public long SentToOutside => Interlocked.Read(ref _toOutside);

    /// <summary>Connections the router opened.</summary>
    public long ConnectionsAdded => Interlocked.Read(ref _added);

    /// <summary>Dropped packets by reason.</summary>
    public IReadOnlyDictionary<string, long> Dropped => _dropped;

    internal void Received(bool fromInside) => Interlocked.Increment(ref fromInside ? ref _fromInside : ref _fromOutside);

    internal void Sent(bool toInside) => Interlocked.Increment(ref toInside ? ref _toInside : ref _toOutside);

    internal void Added() => Interlocked.Increment(ref _added);

    internal void Drop(string reason) => _dropped.AddOrUpdate(reason, 1, static (_, n) => n + 1);

    // Reason names are made once per enum value: a flood of dropped packets must not allocate a string per packet.
    private static readonly string[] PacketErrorNames = Names<NatFramework.Packets.PacketError>(string.Empty);
    private static readonly string[] UntranslatedNames = Names<NatFramework.UntranslatedReason>("untranslated-");
    private static readonly string[] StatusNames = Names<NatFramework.NatTranslateStatus>(string.Empty);

    private static string[] Names<T>(string prefix) where T : struct, Enum
    {
        var names = new string[256];
        foreach (var value in Enum.GetValues<T>()) names[Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)] = prefix + value;
        return names;
    }

    internal void Drop(NatFramework.Packets.PacketError error) => Drop(PacketErrorNames[(byte)error] ?? error.ToString());

    internal void Drop(NatFramework.UntranslatedReason reason) => Drop(UntranslatedNames[(byte)reason] ?? "untranslated-" + reason);

    internal void Drop(NatFramework.NatTranslateStatus status) => Drop(StatusNames[(byte)status] ?? status.ToString());

    /// <inheritdoc/>
    public override string ToString() => $"in→out {ReceivedFromInside}/{SentToOutside}, out→in {ReceivedFromOutside}/{SentToInside}, connections {ConnectionsAdded}, dropped " +
        (_dropped.IsEmpty ? "0" : string.Join(", ", _dropped.Select(d => $"{d.Key} {d.Value}")));
}
