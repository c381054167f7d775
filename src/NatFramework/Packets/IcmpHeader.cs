using System.Buffers.Binary;

namespace NatFramework.Packets;

/// <summary>A view over an ICMP message (RFC 792).</summary>
/// <remarks>
/// <code>
/// +--------+--------+--------+--------+
/// |  Type  |  Code  |    Checksum     |
/// +--------+--------+--------+--------+
/// |   Identifier    | Sequence Number |   queries (echo, timestamp, information)
/// |             unused              |   errors (3, 4, 5 gateway, 11, 12 pointer)
/// +--------+--------+--------+--------+
/// | data / the original datagram's header + first 8 bytes ...
/// </code>
/// </remarks>
public readonly ref struct IcmpHeader
{
    /// <summary>The fixed header length.</summary>
    public const int Length = 8;
    /// <summary>Offset of the Checksum field.</summary>
    public const int ChecksumOffset = 2;
    /// <summary>Offset of the Identifier field of a query.</summary>
    public const int IdentifierOffset = 4;
    /// <summary>Offset of the Sequence Number field of a query.</summary>
    public const int SequenceOffset = 6;

    private readonly Span<byte> _message;

    /// <summary>Wraps a message; it must be at least 8 bytes.</summary>
    /// <param name="message">The message.</param>
    public IcmpHeader(Span<byte> message) => _message = message;

    /// <summary>The whole message.</summary>
    public Span<byte> Message => _message;

    /// <summary>The type.</summary>
    public IcmpType Type => (IcmpType)_message[0];

    /// <summary>The code.</summary>
    public byte Code => _message[1];

    /// <summary>The checksum field.</summary>
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(_message[ChecksumOffset..]);

    /// <summary>The identifier of a query message.</summary>
    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(_message[IdentifierOffset..]);

    /// <summary>The sequence number of a query message.</summary>
    public ushort Sequence => BinaryPrimitives.ReadUInt16BigEndian(_message[SequenceOffset..]);

    /// <summary>What follows the 8-byte header: query data, or an error's embedded datagram.</summary>
    public Span<byte> Body => _message[Length..];

    /// <summary>True for a query or its reply, which a NAT keys by identifier.</summary>
    public bool IsQuery => IcmpTypes.IsQuery(Type);

    /// <summary>True for an error that carries the datagram it is about.</summary>
    public bool IsError => IcmpTypes.IsError(Type);
}

/// <summary>ICMP message types (RFC 792, RFC 950 obsoleted parts excluded).</summary>
public enum IcmpType : byte
{
    /// <summary>Echo Reply.</summary>
    EchoReply = 0,
    /// <summary>Destination Unreachable.</summary>
    DestinationUnreachable = 3,
    /// <summary>Source Quench (deprecated by RFC 6633, still translated).</summary>
    SourceQuench = 4,
    /// <summary>Redirect.</summary>
    Redirect = 5,
    /// <summary>Echo Request.</summary>
    EchoRequest = 8,
    /// <summary>Time Exceeded.</summary>
    TimeExceeded = 11,
    /// <summary>Parameter Problem.</summary>
    ParameterProblem = 12,
    /// <summary>Timestamp Request.</summary>
    TimestampRequest = 13,
    /// <summary>Timestamp Reply.</summary>
    TimestampReply = 14,
    /// <summary>Information Request.</summary>
    InformationRequest = 15,
    /// <summary>Information Reply.</summary>
    InformationReply = 16,
}

/// <summary>Classification of ICMP types.</summary>
public static class IcmpTypes
{
    /// <summary>Echo, timestamp and information requests and replies: keyed by identifier (RFC 5508 REQ-1).</summary>
    /// <param name="type">The ICMP type.</param>
    /// <returns>True for the query types (requests and replies).</returns>
    public static bool IsQuery(IcmpType type) => type is IcmpType.EchoRequest or IcmpType.EchoReply
        or IcmpType.TimestampRequest or IcmpType.TimestampReply
        or IcmpType.InformationRequest or IcmpType.InformationReply;

    /// <summary>Errors that embed the offending datagram's header and at least 8 bytes (RFC 792, RFC 5508 REQ-3).</summary>
    /// <param name="type">The ICMP type.</param>
    /// <returns>True for the error types (unreachable, source quench, redirect, time exceeded, parameter problem).</returns>
    public static bool IsError(IcmpType type) => type is IcmpType.DestinationUnreachable or IcmpType.SourceQuench
        or IcmpType.Redirect or IcmpType.TimeExceeded or IcmpType.ParameterProblem;

    /// <summary>True for the request half of a query pair (the kind that may open a NAT mapping).</summary>
    /// <param name="type">The ICMP type.</param>
    /// <returns>True for echo, timestamp and information requests.</returns>
    public static bool IsRequest(IcmpType type) => type is IcmpType.EchoRequest or IcmpType.TimestampRequest
        or IcmpType.InformationRequest;
}
