namespace NatRouter;

/// <summary>
/// An interface in memory: frames put in with <see cref="Inject"/> are read by the router, frames the router writes
/// are kept for <see cref="TakeWritten"/>. Both rings are allocated up front, so driving the router through it
/// allocates nothing per packet (the allocation tests depend on that). Single reader, single writer per ring.
/// </summary>
public sealed class MemoryPort : IPacketPort
{
    private readonly Ring _incoming, _written;

    /// <summary>Creates a port holding up to <paramref name="capacity"/> frames of up to <paramref name="frameSize"/> bytes each way.</summary>
    public MemoryPort(bool offload = false, int capacity = 64, int frameSize = 65545)
    {
        Offload = offload;
        _incoming = new Ring(capacity, frameSize);
        _written = new Ring(capacity, frameSize);
    }

    /// <inheritdoc/>
    public bool Offload { get; }

    /// <summary>Frames written by the router and not yet taken.</summary>
    public int WrittenCount => _written.Count;

    /// <summary>Queues a frame for the router to read; false when the ring is full.</summary>
    public bool Inject(ReadOnlySpan<byte> frame) => _incoming.Put(frame);

    /// <summary>Takes the oldest written frame, or null.</summary>
    public byte[]? TakeWritten()
    {
        var buffer = new byte[_written.FrameSize];
        int length = _written.Take(buffer);
        return length < 0 ? null : buffer[..length];
    }

    /// <summary>Forgets every written frame without copying it out.</summary>
    public void DiscardWritten()
    {
        while (_written.Take(Span<byte>.Empty) >= 0) { }
    }

    /// <inheritdoc/>
    public bool WaitReadable(int timeoutMilliseconds)
    {
        // No lambda (SpinWait.SpinUntil would allocate one per call): the allocation tests run through here.
        long deadline = Environment.TickCount64 + Math.Max(0, timeoutMilliseconds);
        var spinner = new SpinWait();
        while (_incoming.Count == 0)
        {
            if (Environment.TickCount64 >= deadline) return false;
            spinner.SpinOnce(sleep1Threshold: 20);
        }
        return true;
    }

    /// <inheritdoc/>
    public int Read(Span<byte> frame) => Math.Max(0, _incoming.Take(frame));

    /// <inheritdoc/>
    public bool Write(ReadOnlySpan<byte> frame) => _written.Put(frame);

    private sealed class Ring(int capacity, int frameSize)
    {
        private readonly byte[] _bytes = new byte[capacity * frameSize];
        private readonly int[] _lengths = new int[capacity];
        private int _head, _count;
        private readonly Lock _lock = new();

        public int FrameSize => frameSize;

        public int Count
        {
            get { lock (_lock) return _count; }
        }

        public bool Put(ReadOnlySpan<byte> frame)
        {
            lock (_lock)
            {
                if (_count == capacity || frame.Length > frameSize) return false;
                int slot = (_head + _count) % capacity;
                frame.CopyTo(_bytes.AsSpan(slot * frameSize));
                _lengths[slot] = frame.Length;
                _count++;
                return true;
            }
        }

        /// <summary>Copies the oldest frame into <paramref name="destination"/> (as much as fits); its length, or -1 when empty.</summary>
        public int Take(Span<byte> destination)
        {
            lock (_lock)
            {
                if (_count == 0) return -1;
                int length = _lengths[_head];
                _bytes.AsSpan(_head * frameSize, Math.Min(length, destination.Length)).CopyTo(destination);
                _head = (_head + 1) % capacity;
                _count--;
                return Math.Min(length, destination.Length);
            }
        }
    }
}
