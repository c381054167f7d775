using System.Buffers;
using System.Buffers.Binary;
using NatFramework.Packets;

namespace NatFramework.Fragmentation;

/// <summary>What <see cref="Ipv4Reassembler.Add"/> did with a packet.</summary>
public enum ReassemblyStatus : byte
{
    /// <summary>The packet is not a fragment: use it as it is.</summary>
    NotFragment,
    /// <summary>The fragment was stored; the datagram is not complete yet.</summary>
    Incomplete,
    /// <summary>The datagram is complete and was written to the destination.</summary>
    Complete,
    /// <summary>The fragment (and, for overlaps, its whole datagram) was dropped; see the error.</summary>
    Dropped,
}

/// <summary>The outcome of adding one packet to an <see cref="Ipv4Reassembler"/>.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Length">The reassembled datagram's length (for <see cref="ReassemblyStatus.Complete"/>).</param>
/// <param name="Error">Why it was dropped (for <see cref="ReassemblyStatus.Dropped"/>).</param>
public readonly record struct ReassemblyResult(ReassemblyStatus Status, int Length, PacketError Error);

/// <summary>Counters of an <see cref="Ipv4Reassembler"/>.</summary>
/// <param name="Completed">Datagrams reassembled.</param>
/// <param name="TimedOut">Incomplete datagrams dropped for age.</param>
/// <param name="Evicted">Incomplete datagrams dropped to stay within the memory, datagram and per-source bounds.</param>
/// <param name="Overlapping">Datagrams dropped for overlapping fragments (or a repeated fragment with other bytes).</param>
/// <param name="Invalid">Fragments dropped as too large or inconsistent.</param>
/// <param name="TooManyFragments">Datagrams dropped for arriving in more fragments than allowed.</param>
public readonly record struct ReassemblyStatistics(long Completed, long TimedOut, long Evicted, long Overlapping, long Invalid, long TooManyFragments);

/// <summary>
/// Reassembles IPv4 fragments (RFC 791 §3.2, RFC 815) keyed by source, destination, protocol and
/// identification, within fixed bounds on bytes, datagrams (in all and per source), fragments per datagram and a
/// timeout, so a flood of incomplete fragments costs bounded memory and each fragment bounded work: a datagram's
/// fragments are kept sorted by offset, so placing one is a binary search and a check of its two neighbours.
/// Overlapping fragments discard the whole datagram (RFC 5722's rule, applied to IPv4), and so does a fragment
/// repeated with other bytes; an exact duplicate is ignored, as RFC 5722's erratum 3089 allows. Thread-safe.
/// </summary>
public sealed class Ipv4Reassembler
{
    private const int MaxPayload = Ipv4Packet.MaxLength - Ipv4Packet.MinHeaderLength;
    private readonly ReassemblyOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<FragmentKey, PendingDatagram> _pending = new();
    private readonly Dictionary<uint, int> _datagramsPerSource = new();
    private readonly Stack<PendingDatagram> _free = new();
    private readonly Lock _lock = new();
    private PendingDatagram? _oldest, _newest; // creation order, which is also expiry order
    private long _bytesHeld;
    private long _completed, _timedOut, _evicted, _overlapping, _invalid, _tooManyFragments;

    /// <summary>Creates a reassembler with the given bounds (defaults when null).</summary>
    /// <param name="options">Limits of the reassembly buffers (defaults when null).</param>
    /// <param name="time">The clock (the system clock when null).</param>
    public Ipv4Reassembler(ReassemblyOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new ReassemblyOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Incomplete datagrams held now.</summary>
    public int PendingDatagrams { get { lock (_lock) return _pending.Count; } }

    /// <summary>Bytes of buffers held now for incomplete datagrams.</summary>
    public long PendingBytes { get { lock (_lock) return _bytesHeld; } }

    /// <summary>Counters since creation.</summary>
    public ReassemblyStatistics Statistics { get { lock (_lock) return new(_completed, _timedOut, _evicted, _overlapping, _invalid, _tooManyFragments); } }

    /// <summary>
    /// Adds a validated packet. A whole datagram gives <see cref="ReassemblyStatus.NotFragment"/>. When a
    /// fragment completes its datagram, the datagram (first fragment's header, MF and offset cleared,
    /// Total Length and checksum recomputed) is written to <paramref name="destination"/>, which must hold
    /// 65535 bytes.
    /// </summary>
    /// <param name="packet">A fragment.</param>
    /// <param name="destination">Where the reassembled datagram is written.</param>
    /// <returns>The datagram when this fragment completed it, that more fragments are awaited, or why it was dropped.</returns>
    public ReassemblyResult Add(in Ipv4Packet packet, Span<byte> destination)
    {
        if (!packet.IsFragment) return new(ReassemblyStatus.NotFragment, 0, PacketError.None);
        int offset = packet.FragmentOffset;
        var data = packet.Payload;
        bool last = !packet.MoreFragments;
        var key = new FragmentKey(packet.Source.Value, packet.Destination.Value, packet.Identification, packet.ProtocolNumber);
        long now = _time.GetTimestamp();

        lock (_lock)
        {
            ExpireOld(now);
            if (offset + data.Length > MaxPayload)
                return DropDatagram(key, PacketError.ReassembledTooLarge);
            // Every fragment but the last carries a multiple of 8 bytes (RFC 791), else offsets cannot line up.
            if ((!last && (data.Length & 7) != 0) || (!last && data.Length == 0))
                return DropDatagram(key, PacketError.InconsistentFragment);

            if (!_pending.TryGetValue(key, out var datagram)) datagram = Start(key, now);

            int end = offset + data.Length;
            int place = datagram.Place(offset, end, data, out var placement);
            if (placement == Placement.Duplicate) return new(ReassemblyStatus.Incomplete, 0, PacketError.None);
            if ((last && datagram.PayloadLength >= 0 && datagram.PayloadLength != end)
                || (datagram.PayloadLength >= 0 && end > datagram.PayloadLength)
                || (last && end < datagram.HighestEnd))
            {
                Release(datagram);
                return Dropped(PacketError.InconsistentFragment, ref _invalid);
            }
            if (placement == Placement.Overlap)
            {
                Release(datagram);
                return Dropped(PacketError.OverlappingFragment, ref _overlapping);
            }
            if (datagram.FragmentCount == _options.MaxFragmentsPerDatagram)
            {
                Release(datagram);
                return Dropped(PacketError.TooManyFragments, ref _tooManyFragments);
            }
            if (!Reserve(datagram, end))
            {
                Release(datagram);
                return Dropped(PacketError.ReassembledTooLarge, ref _evicted);
            }
            data.CopyTo(datagram.Buffer.AsSpan(offset));
            datagram.Insert(place, offset, end);
            if (last) datagram.PayloadLength = end;
            if (offset == 0)
            {
                packet.Header.CopyTo(datagram.Header);
                datagram.HeaderLength = packet.HeaderLength;
            }
            if (datagram.PayloadLength < 0 || datagram.ReceivedBytes != datagram.PayloadLength || datagram.HeaderLength == 0)
                return new(ReassemblyStatus.Incomplete, 0, PacketError.None);

            int total = datagram.HeaderLength + datagram.PayloadLength;
            if (total > Ipv4Packet.MaxLength || destination.Length < total)
            {
                Release(datagram);
                return Dropped(PacketError.ReassembledTooLarge, ref _invalid);
            }
            datagram.Header.AsSpan(0, datagram.HeaderLength).CopyTo(destination);
            datagram.Buffer.AsSpan(0, datagram.PayloadLength).CopyTo(destination[datagram.HeaderLength..]);
            BinaryPrimitives.WriteUInt16BigEndian(destination[Ipv4Packet.TotalLengthOffset..], (ushort)total);
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(destination[Ipv4Packet.FlagsOffset..]);
            BinaryPrimitives.WriteUInt16BigEndian(destination[Ipv4Packet.FlagsOffset..], (ushort)(flags & Ipv4Packet.DontFragmentFlag));
            Ipv4Packet.RecomputeHeaderChecksum(destination[..datagram.HeaderLength]);
            Release(datagram);
            _completed++;
            return new(ReassemblyStatus.Complete, total, PacketError.None);
        }
    }

    /// <summary>Drops every incomplete datagram older than the timeout. <see cref="Add"/> does this itself.</summary>
    public void Purge()
    {
        lock (_lock) ExpireOld(_time.GetTimestamp());
    }

    private ReassemblyResult DropDatagram(FragmentKey key, PacketError error)
    {
        if (_pending.TryGetValue(key, out var datagram)) Release(datagram);
        return Dropped(error, ref _invalid);
    }

    private static ReassemblyResult Dropped(PacketError error, ref long counter)
    {
        counter++;
        return new(ReassemblyStatus.Dropped, 0, error);
    }

    private void ExpireOld(long now)
    {
        while (_oldest is { } oldest && _time.GetElapsedTime(oldest.Created, now) >= _options.Timeout)
        {
            Release(oldest);
            _timedOut++;
        }
    }

    private PendingDatagram Start(FragmentKey key, long now)
    {
        while (_pending.Count >= _options.MaxDatagrams && _oldest is not null)
        {
            Release(_oldest);
            _evicted++;
        }
        _datagramsPerSource.TryGetValue(key.Source, out int ofSource);
        if (ofSource >= _options.MaxDatagramsPerSource)
        {
            // The source's own oldest goes (a walk of at most MaxDatagrams entries, only when a source is at its bound).
            for (var candidate = _oldest; candidate is not null; candidate = candidate.Next)
            {
                if (candidate.Key.Source != key.Source) continue;
                Release(candidate);
                _evicted++;
                break;
            }
        }
        _datagramsPerSource[key.Source] = _datagramsPerSource.GetValueOrDefault(key.Source) + 1;
        var datagram = _free.Count > 0 ? _free.Pop() : new PendingDatagram(_options.MaxFragmentsPerDatagram);
        datagram.Reset(key, now);
        _pending.Add(key, datagram);
        datagram.Previous = _newest;
        if (_newest is not null) _newest.Next = datagram; else _oldest = datagram;
        _newest = datagram;
        return datagram;
    }

    /// <summary>Makes the datagram's buffer hold <paramref name="end"/> bytes, evicting older datagrams to stay in bounds.</summary>
    private bool Reserve(PendingDatagram datagram, int end)
    {
        int current = datagram.Buffer.Length;
        if (end <= current) return true;
        int wanted = Math.Min(Math.Max(end, Math.Max(current * 2, 2048)), MaxPayload);
        long growth = wanted - current;
        while (_bytesHeld + growth > _options.MaxBytes && _oldest is not null && _oldest != datagram)
        {
            Release(_oldest);
            _evicted++;
        }
        if (_bytesHeld + growth > _options.MaxBytes) return false;
        var buffer = ArrayPool<byte>.Shared.Rent(wanted);
        datagram.Buffer.AsSpan(0, Math.Min(current, datagram.HighestEnd)).CopyTo(buffer);
        if (current > 0) ArrayPool<byte>.Shared.Return(datagram.Buffer);
        _bytesHeld += buffer.Length - current;
        datagram.Buffer = buffer;
        return true;
    }

    private void Release(PendingDatagram datagram)
    {
        _pending.Remove(datagram.Key);
        if (_datagramsPerSource[datagram.Key.Source] is var left and > 1) _datagramsPerSource[datagram.Key.Source] = left - 1;
        else _datagramsPerSource.Remove(datagram.Key.Source);
        if (datagram.Previous is not null) datagram.Previous.Next = datagram.Next; else _oldest = datagram.Next;
        if (datagram.Next is not null) datagram.Next.Previous = datagram.Previous; else _newest = datagram.Previous;
        datagram.Previous = datagram.Next = null;
        if (datagram.Buffer.Length > 0)
        {
            _bytesHeld -= datagram.Buffer.Length;
            ArrayPool<byte>.Shared.Return(datagram.Buffer);
            datagram.Buffer = [];
        }
        _free.Push(datagram);
    }

    private readonly record struct FragmentKey(uint Source, uint Destination, ushort Identification, byte Protocol);

    /// <summary>Where a fragment goes among those already held.</summary>
    private enum Placement : byte
    {
        /// <summary>Between its neighbours, touching neither.</summary>
        Free,
        /// <summary>The same offset, length and bytes as one held: nothing to do.</summary>
        Duplicate,
        /// <summary>Overlaps one held, or repeats one with other bytes: the datagram is discarded.</summary>
        Overlap,
    }

    /// <summary>
    /// One incomplete datagram: its payload buffer and its fragments as (offset, end) pairs sorted by offset, which never
    /// overlap. Instances are recycled through a free list.
    /// </summary>
    private sealed class PendingDatagram(int maxFragments)
    {
        private readonly int[] _offsets = new int[maxFragments];
        private readonly int[] _ends = new int[maxFragments];

        public FragmentKey Key;
        public long Created;
        public byte[] Buffer = [];
        public readonly byte[] Header = new byte[60];
        public int HeaderLength;
        public int PayloadLength;
        public int ReceivedBytes;
        public int HighestEnd;
        public int FragmentCount;
        public PendingDatagram? Previous, Next;

        public void Reset(FragmentKey key, long now)
        {
            Key = key;
            Created = now;
            HeaderLength = 0;
            PayloadLength = -1;
            ReceivedBytes = 0;
            HighestEnd = 0;
            FragmentCount = 0;
        }

        /// <summary>
        /// Finds where <c>[offset, end)</c> goes: a binary search, then a look at the fragment before and the one at that
        /// place (the held fragments never overlap, so no other can). Returns the index to insert at.
        /// </summary>
        public int Place(int offset, int end, ReadOnlySpan<byte> data, out Placement placement)
        {
            int low = 0, high = FragmentCount;
            while (low < high)
            {
                int middle = (low + high) >>> 1;
                if (_offsets[middle] < offset) low = middle + 1;
                else high = middle;
            }
            if (low < FragmentCount && _offsets[low] == offset && _ends[low] == end)
            {
                // RFC 5722: a repeat is harmless only when it carries the same bytes.
                placement = data.SequenceEqual(Buffer.AsSpan(offset, end - offset)) ? Placement.Duplicate : Placement.Overlap;
                return low;
            }
            bool overlaps = (low > 0 && _ends[low - 1] > offset) || (low < FragmentCount && _offsets[low] < end);
            placement = overlaps ? Placement.Overlap : Placement.Free;
            return low;
        }

        /// <summary>Records a fragment at the index <see cref="Place"/> returned.</summary>
        public void Insert(int index, int offset, int end)
        {
            int after = FragmentCount - index;
            if (after > 0)
            {
                Array.Copy(_offsets, index, _offsets, index + 1, after);
                Array.Copy(_ends, index, _ends, index + 1, after);
            }
            _offsets[index] = offset;
            _ends[index] = end;
            FragmentCount++;
            ReceivedBytes += end - offset;
            HighestEnd = Math.Max(HighestEnd, end);
        }
    }
}
