using LiteDB;

namespace NatFramework.Stores.LiteDb;

/// <summary>
/// A connection as one LiteDB document in the <c>connections</c> collection: <c>_id</c> the outbound key (13 bytes,
/// <see cref="FlowKey.WriteTo"/>), <c>t</c> the translated key, <c>s</c> last seen (ms), <c>f</c> flags. One document
/// holds both directions, so they are always on disk together or not at all.
/// </summary>
internal static class ConnectionDocument
{
    /// <summary>The one collection a NAT table file holds.</summary>
    public const string CollectionName = "connections";

    public static BsonDocument From(in NatConnection connection)
    {
        var translated = new byte[FlowKey.EncodedLength];
        connection.Translated.WriteTo(translated);
        return new BsonDocument { ["_id"] = IdOf(connection.Outbound), ["t"] = translated, ["s"] = connection.LastSeen, ["f"] = (int)connection.Flags };
    }

    public static BsonValue IdOf(in FlowKey outbound)
    {
        var bytes = new byte[FlowKey.EncodedLength];
        outbound.WriteTo(bytes);
        return new BsonValue(bytes);
    }

    /// <summary>Reads a document written by <see cref="From"/>; false for anything of another shape.</summary>
    public static bool TryRead(BsonDocument document, out NatConnection connection)
    {
        connection = default;
        if (document.Count != 4
            || !document.TryGetValue("_id", out var id) || !id.IsBinary || id.AsBinary.Length != FlowKey.EncodedLength
            || !document.TryGetValue("t", out var translated) || !translated.IsBinary || translated.AsBinary.Length != FlowKey.EncodedLength
            || !document.TryGetValue("s", out var lastSeen) || !lastSeen.IsInt64
            || !document.TryGetValue("f", out var flags) || !flags.IsInt32 || flags.AsInt32 is < 0 or > byte.MaxValue)
            return false;
        var outbound = FlowKey.Read(id.AsBinary);
        var to = FlowKey.Read(translated.AsBinary);
        if (outbound.Protocol is not (NatProtocol.Tcp or NatProtocol.Udp or NatProtocol.Icmp) || to.Protocol != outbound.Protocol) return false;
        connection = new NatConnection(outbound, to, lastSeen.AsInt64, (NatConnectionFlags)flags.AsInt32);
        return true;
    }
}
