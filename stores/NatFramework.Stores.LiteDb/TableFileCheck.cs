using System.Text;
using LiteDB;

namespace NatFramework.Stores.LiteDb;

/// <summary>What a path holds before the store opens it.</summary>
internal enum TableFileKind
{
    /// <summary>Nothing: a new table is created.</summary>
    Missing,
    /// <summary>A zero-length file (as a crash between creating and first writing leaves): treated as new, with a warning.</summary>
    Empty,
    /// <summary>A file that starts like a LiteDB 5 database; its content is verified next, without writing to it.</summary>
    LiteDb,
    /// <summary>Anything else: never written to.</summary>
    Foreign,
}

/// <summary>
/// Decides whether a file is a NAT table before LiteDB may write to it. LiteDB 5 cannot be trusted with a file it fails
/// to read: it overwrites non-database files with a fresh database, truncates files whose length is not a whole number
/// of pages — in its read-only mode too — and deletes log files. So the store first checks the header itself, then reads
/// every document through <see cref="CopyOnWriteFileStream"/>s (LiteDB's writes stay in memory), and only a file that
/// passes both is opened for writing.
/// </summary>
internal static class TableFileCheck
{
    /// <summary>LiteDB 5's page size: a data file is a whole number of pages.</summary>
    public const int PageSize = 8192;

    // The header page (LiteDB 5 file format 8): page type at offset 4 (1 = header), the text below at 32–58, the file
    // format version at 59.
    private const int PageTypeOffset = 4, HeaderPageType = 1, SignatureOffset = 32, FormatVersionOffset = 59, FormatVersion = 8;
    private static readonly byte[] Signature = Encoding.ASCII.GetBytes("** This is a LiteDB file **");

    /// <summary>The write-ahead log LiteDB keeps beside <paramref name="path"/>: <c>nat.db</c> → <c>nat-log.db</c>.</summary>
    public static string LogPathOf(string path)
    {
        string extension = Path.GetExtension(path);
        return path[..^extension.Length] + "-log" + extension;
    }

    /// <summary>Reads the first page of <paramref name="path"/> (only reads) and says what the file is.</summary>
    /// <param name="path">The table file.</param>
    /// <param name="why">For <see cref="TableFileKind.Foreign"/>, why the file is not a LiteDB table.</param>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    public static TableFileKind Inspect(string path, out string why)
    {
        why = "";
        if (!File.Exists(path)) return TableFileKind.Missing;
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        long length = file.Length;
        if (length == 0) return TableFileKind.Empty;
        if (length < PageSize || length % PageSize != 0)
        {
            why = $"its length, {length:N0} bytes, is not a whole number of {PageSize:N0}-byte pages: it is truncated, or not a LiteDB file";
            return TableFileKind.Foreign;
        }
        var header = new byte[FormatVersionOffset + 1];
        file.ReadExactly(header);
        if (header[PageTypeOffset] != HeaderPageType || !header.AsSpan(SignatureOffset, Signature.Length).SequenceEqual(Signature))
        {
            why = "it does not begin with a LiteDB header";
            return TableFileKind.Foreign;
        }
        if (header[FormatVersionOffset] != FormatVersion)
        {
            why = $"it is a LiteDB file of format {header[FormatVersionOffset]}, not LiteDB 5's format {FormatVersion}";
            return TableFileKind.Foreign;
        }
        return TableFileKind.LiteDb;
    }

    /// <summary>
    /// Reads every connection of a LiteDB file, its log replayed, without writing to either file, and checks that it is a
    /// NAT table: no collection but <see cref="ConnectionDocument.CollectionName"/>, every document of the store's shape.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a readable NAT table; the message says why.</exception>
    public static List<NatConnection> ReadVerified(string path)
    {
        try
        {
            using var data = new CopyOnWriteFileStream(path);
            using var log = new CopyOnWriteFileStream(LogPathOf(path));
            using var database = new LiteDatabase(data, logStream: log);
            var foreign = database.GetCollectionNames().Where(name => name != ConnectionDocument.CollectionName).ToList();
            if (foreign.Count > 0)
                throw new InvalidDataException($"it is a LiteDB database of something else (collections {string.Join(", ", foreign)})");
            var connections = new List<NatConnection>();
            foreach (var document in database.GetCollection(ConnectionDocument.CollectionName).FindAll())
            {
                if (!ConnectionDocument.TryRead(document, out var connection))
                    throw new InvalidDataException($"a document is not a NAT connection: {Truncate(document.ToString())}");
                connections.Add(connection);
            }
            return connections;
        }
        catch (InvalidDataException)
        {
            throw;
        }
        catch (Exception e) when (e is not (OutOfMemoryException or UnauthorizedAccessException))
        {
            // LiteDB reports damage with many exception types (LiteException, ArgumentOutOfRangeException, InvalidCastException, …).
            throw new InvalidDataException($"LiteDB cannot read it ({e.GetType().Name}: {e.Message})", e);
        }
    }

    private static string Truncate(string text) => text.Length <= 120 ? text : text[..120] + "…";
}
