namespace NatFramework.Packets;

/// <summary>Why a packet was rejected. Each value is a distinct counter in a router.</summary>
public enum PacketError : byte
{
    /// <summary>The packet is well formed.</summary>
    None = 0,
    /// <summary>Shorter than the 20-byte minimum IPv4 header.</summary>
    TooShort,
    /// <summary>The version field is not 4.</summary>
    NotIpv4,
    /// <summary>IHL below 5 (RFC 791: the minimum header is five 32-bit words).</summary>
    HeaderLengthTooSmall,
    /// <summary>IHL points past the end of the buffer.</summary>
    HeaderLengthBeyondBuffer,
    /// <summary>Total Length is larger than the bytes received.</summary>
    TotalLengthBeyondBuffer,
    /// <summary>Total Length is smaller than the header.</summary>
    TotalLengthBelowHeader,
    /// <summary>The header checksum does not verify (RFC 791, RFC 1071).</summary>
    BadHeaderChecksum,
    /// <summary>A TCP header shorter than 20 bytes, or a data offset beyond the datagram.</summary>
    TruncatedTcpHeader,
    /// <summary>A UDP header shorter than 8 bytes.</summary>
    TruncatedUdpHeader,
    /// <summary>An ICMP header shorter than 8 bytes.</summary>
    TruncatedIcmpHeader,
    /// <summary>An ICMP error whose embedded datagram is not an IPv4 header plus at least 8 bytes (RFC 792).</summary>
    TruncatedIcmpErrorPayload,
    /// <summary>A fragment reached code that needs the whole datagram; reassemble first.</summary>
    FragmentNeedsReassembly,
    /// <summary>Overlapping fragments: the whole datagram is discarded (RFC 5722's rule, applied to IPv4).</summary>
    OverlappingFragment,
    /// <summary>Fragments would build a datagram larger than 65535 bytes.</summary>
    ReassembledTooLarge,
    /// <summary>Fragments of a datagram disagree (e.g. two different last fragments).</summary>
    InconsistentFragment,
    /// <summary>
    /// A datagram arrived in more fragments than a reassembler accepts (<c>ReassemblyOptions.MaxFragmentsPerDatagram</c>):
    /// the whole datagram is discarded, so tiny fragments cannot buy unbounded work.
    /// </summary>
    TooManyFragments,
    /// <summary>A UDP Length field below 8 or beyond the datagram (RFC 768); mirage-nat drops these as malformed too.</summary>
    BadUdpLength,
    /// <summary>An ICMP error whose ICMP checksum fails (RFC 5508 REQ-3: dropped silently).</summary>
    BadIcmpChecksum,
    /// <summary>An ICMP error whose carried IP header's checksum fails (RFC 5508 REQ-3a).</summary>
    BadEmbeddedHeaderChecksum,
}
