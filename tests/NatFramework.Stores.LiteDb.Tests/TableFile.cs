namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>A temporary folder for one test's table file, deleted afterwards.</summary>
public sealed class TableFile : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("natframework-litedb-").FullName;

    public string Path => System.IO.Path.Combine(Folder, "nat.db");

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
