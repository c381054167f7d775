using System.Buffers.Binary;

namespace NatFramework.Stores.Redis;

/// <summary>
/// The binary forms kept in Redis. A key is 13 bytes: protocol, source address, source port, destination address,
/// destination port. A record, stored under both keys of a connection, is 36 bytes: the outbound key, the
/// translated key, last-seen milliseconds (8, big-endian), flags, and which direction this copy's key is.
/// The Lua scripts rely on these offsets (see <see cref="LuaScripts"/>).
/// </summary>
internal static class RecordCodec
{
    public const int KeyLength = FlowKey.EncodedLength;
    public const int RecordLength = 36;
    public const int LastSeenOffset = 26;
    public const int FlagsOffset = 34;
    public const int DirectionOffset = 35;

    public static void WriteKey(Span<byte> destination, in FlowKey key) => key.WriteTo(destination);

    public static FlowKey ReadKey(ReadOnlySpan<byte> source) => FlowKey.Read(source);

    public static byte[] Record(in NatConnection connection, FlowDirection direction)
    {
        var record = new byte[RecordLength];
        WriteKey(record, connection.Outbound);
        WriteKey(record.AsSpan(KeyLength), connection.Translated);
        BinaryPrimitives.WriteInt64BigEndian(record.AsSpan(LastSeenOffset), connection.LastSeen);
        record[FlagsOffset] = (byte)connection.Flags;
        record[DirectionOffset] = (byte)direction;
        return record;
    }

    public static bool TryReadRecord(ReadOnlySpan<byte> record, out NatLookup lookup)
    {
        if (record.Length != RecordLength)
        {
            lookup = default;
            return false;
        }
        var connection = new NatConnection(ReadKey(record), ReadKey(record[KeyLength..]),
            BinaryPrimitives.ReadInt64BigEndian(record[LastSeenOffset..]), (NatConnectionFlags)record[FlagsOffset]);
        lookup = new NatLookup(connection, (FlowDirection)record[DirectionOffset]);
        return true;
    }
}
