namespace NatFramework.Stores.LiteDb;

/// <summary>
/// A stream over a file opened for reading only, whose writes land in memory: LiteDB can open a table through it, run its
/// recovery and read every document, and whatever it would change (a header it rewrites, a log it replays, a length it
/// "fixes") stays in memory. That is how the store reads a file it has not verified yet without any risk to it — LiteDB's
/// own read-only mode truncates files it cannot parse and deletes log files.
/// </summary>
internal sealed class CopyOnWriteFileStream : Stream
{
    private const int PageSize = TableFileCheck.PageSize;
    private readonly FileStream? _file;
    private readonly long _fileLength;
    private readonly Dictionary<long, byte[]> _writtenPages = new();
    private long _length;
    private long _position;

    /// <summary>Reads <paramref name="path"/> (or nothing, when it does not exist) without ever writing to it.</summary>
    public CopyOnWriteFileStream(string path)
    {
        if (File.Exists(path)) _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        _fileLength = _file?.Length ?? 0;
        _length = _fileLength;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => true;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override void SetLength(long value) => _length = value;

    public override int Read(byte[] buffer, int offset, int count)
    {
        int total = 0;
        while (count > 0 && _position < _length)
        {
            long page = _position / PageSize;
            int within = (int)(_position % PageSize);
            int chunk = (int)Math.Min(Math.Min(count, PageSize - within), _length - _position);
            if (_writtenPages.TryGetValue(page, out var written)) Buffer.BlockCopy(written, within, buffer, offset, chunk);
            else ReadFromFile(_position, buffer.AsSpan(offset, chunk));
            _position += chunk;
            offset += chunk;
            count -= chunk;
            total += chunk;
        }
        return total;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        while (count > 0)
        {
            long page = _position / PageSize;
            int within = (int)(_position % PageSize);
            int chunk = Math.Min(count, PageSize - within);
            if (!_writtenPages.TryGetValue(page, out var written))
            {
                written = new byte[PageSize];
                ReadFromFile(page * PageSize, written);
                _writtenPages[page] = written;
            }
            Buffer.BlockCopy(buffer, offset, written, within, chunk);
            _position += chunk;
            offset += chunk;
            count -= chunk;
            _length = Math.Max(_length, _position);
        }
    }

    /// <summary>Fills <paramref name="destination"/> from the file at <paramref name="at"/>; bytes past its end read as zero.</summary>
    private void ReadFromFile(long at, Span<byte> destination)
    {
        destination.Clear();
        if (_file is null || at >= _fileLength) return;
        _file.Position = at;
        var available = destination[..(int)Math.Min(destination.Length, _fileLength - at)];
        _file.ReadExactly(available);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file?.Dispose();
        base.Dispose(disposing);
    }
}
