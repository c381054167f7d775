using System.Diagnostics;
using System.Text;
using LiteDB;
using NatFramework.Packets;

namespace NatFramework.Stores.LiteDb.Tests;

/// <summary>
/// The store never writes to a file it has not verified as its own table: whatever else it is given stays byte for byte
/// as it was, with an error that says what is wrong — damage, a foreign file, a folder or a permission problem.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TableFileSafetyTests : IDisposable
{
    private readonly TableFile _file = new();

    public void Dispose() => _file.Dispose();

    private string LogPath => Path.Combine(_file.Folder, "nat-log.db");

    /// <summary>A real table with <paramref name="connections"/> connections, closed.</summary>
    private void WriteTable(int connections)
    {
        using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        var nat = new LiteDbNatTranslator(store);
        for (int i = 0; i < connections; i++)
            Assert.True(nat.AddNat(Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0002u), (ushort)(2000 + i), Ipv4Address.Parse("203.0.113.1"), 53, []), Ipv4Address.Parse("198.51.100.1")).IsOk);
    }

    private static byte[] Text(int length) => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("precious notes, not a NAT table. ", length / 33 + 1)))[..length];

    [Theory]
    [InlineData(30)]
    [InlineData(4_096)]
    [InlineData(8_191)]
    [InlineData(12_000)]
    [InlineData(16_384)]
    public void A_file_that_is_not_a_table_is_an_error_and_stays_byte_for_byte(int length)
    {
        var content = Text(length);
        File.WriteAllBytes(_file.Path, content);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains(_file.Path, error.Message);
        Assert.Contains("left as it is", error.Message);
        Assert.Equal(content, File.ReadAllBytes(_file.Path));
        Assert.False(File.Exists(LogPath));
    }

    /// <summary>The log of a table that committed and was not checkpointed yet, as a crash leaves it: the log's bytes.</summary>
    private byte[] UncheckpointedLog()
    {
        byte[] log;
        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }))
        {
            var nat = new LiteDbNatTranslator(store);
            for (int i = 0; i < 200; i++)
                Assert.True(nat.AddNat(Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0002u), (ushort)(2000 + i), Ipv4Address.Parse("203.0.113.1"), 53, []), Ipv4Address.Parse("198.51.100.1")).IsOk);
            store.Flush();
            log = File.ReadAllBytes(LogPath);
        }
        Assert.NotEmpty(log);
        return log;
    }

    [Fact]
    public void A_log_without_its_table_is_an_error_and_stays_byte_for_byte()
    {
        // Someone deleted the table to start afresh and left its log: LiteDB would replay it onto the new file, damaging
        // that file from its first write on (every later write failed with "page type must be index page").
        var log = UncheckpointedLog();
        File.Delete(_file.Path);
        File.WriteAllBytes(LogPath, log);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains(LogPath, error.Message);
        Assert.Contains("without the table", error.Message);
        Assert.False(File.Exists(_file.Path));
        Assert.Equal(log, File.ReadAllBytes(LogPath));
    }

    [Fact]
    public void A_log_without_its_table_moved_aside_leaves_a_table_that_writes_and_reopens()
    {
        var log = UncheckpointedLog();
        File.Delete(_file.Path);
        File.WriteAllBytes(LogPath, log);

        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, MoveAsideCorruptFile = true }))
        {
            Assert.Equal(0, store.Count);
            var nat = new LiteDbNatTranslator(store);
            for (int i = 0; i < 500; i++)
                Assert.True(nat.AddNat(Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0003u), (ushort)(3000 + i), Ipv4Address.Parse("203.0.113.1"), 53, []), Ipv4Address.Parse("198.51.100.1")).IsOk);
            store.Flush();
            Assert.Equal(0, store.WriteFailures);
        }
        Assert.Equal(log, File.ReadAllBytes(Assert.Single(Directory.GetFiles(_file.Folder, "nat.db.corrupt-*-log"))));
        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(500, reopened.Count);
    }

    [Fact]
    public void A_table_cut_short_by_one_byte_is_an_error_and_is_not_cut_further()
    {
        WriteTable(2_000);
        var whole = File.ReadAllBytes(_file.Path);
        var cut = whole[..^1];
        File.WriteAllBytes(_file.Path, cut);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains("whole number", error.Message);
        Assert.Equal(cut, File.ReadAllBytes(_file.Path));
    }

    [Fact]
    public void Moving_an_unreadable_table_aside_keeps_it_byte_for_byte_and_starts_empty()
    {
        WriteTable(2_000);
        var cut = File.ReadAllBytes(_file.Path)[..^1];
        File.WriteAllBytes(_file.Path, cut);
        var log = Text(8_192 * 2);
        File.WriteAllBytes(LogPath, log);

        using (var fresh = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path, MoveAsideCorruptFile = true }))
            Assert.Equal(0, fresh.Count);

        var aside = Assert.Single(Directory.GetFiles(_file.Folder, "nat.db.corrupt-*"), f => !f.EndsWith("-log", StringComparison.Ordinal));
        Assert.Equal(cut, File.ReadAllBytes(aside));
        Assert.Equal(log, File.ReadAllBytes(aside + "-log"));
    }

    [Fact]
    public void A_table_whose_pages_are_damaged_is_an_error_and_stays_byte_for_byte()
    {
        WriteTable(3_000);
        var damaged = File.ReadAllBytes(_file.Path);
        Assert.False(File.Exists(LogPath)); // everything is in the file that gets damaged
        for (int i = 8_192 * 2; i < damaged.Length; i += 97) damaged[i] ^= 0x5A; // every page after the header's
        // LiteDB 5 keeps no page checksums: damage that only hits key bytes or a pointer that still leads somewhere reads
        // back quietly. The page type byte of every page it can reach is what it always checks.
        for (int page = 8_192 * 2; page < damaged.Length; page += 8_192) damaged[page + 4] ^= 0x5A;
        File.WriteAllBytes(_file.Path, damaged);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains(_file.Path, error.Message);
        Assert.Equal(damaged, File.ReadAllBytes(_file.Path));
    }

    [Fact]
    public void A_litedb_database_of_another_application_is_not_taken_over()
    {
        using (var other = new LiteDatabase(new ConnectionString { Filename = _file.Path, Connection = ConnectionType.Direct }))
            other.GetCollection("customers").Insert(new BsonDocument { ["name"] = "Ada" });
        var before = File.ReadAllBytes(_file.Path);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains("customers", error.Message);
        Assert.Equal(before, File.ReadAllBytes(_file.Path));
    }

    [Fact]
    public void A_connections_collection_of_another_shape_is_not_taken_over()
    {
        using (var other = new LiteDatabase(new ConnectionString { Filename = _file.Path, Connection = ConnectionType.Direct }))
            other.GetCollection("connections").Insert(new BsonDocument { ["host"] = "example" });
        var before = File.ReadAllBytes(_file.Path);

        var error = Assert.Throws<InvalidDataException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains("not a NAT connection", error.Message);
        Assert.Equal(before, File.ReadAllBytes(_file.Path));
    }

    [Fact]
    public void A_zero_length_file_becomes_a_new_table_with_a_warning()
    {
        File.WriteAllBytes(_file.Path, []);
        var log = new ListLogger();

        using (var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }, log))
            Assert.True(new LiteDbNatTranslator(store).AddNat(Ipv4PacketBuilder.Udp(Ipv4Address.Parse("10.77.0.2"), 1, Ipv4Address.Parse("203.0.113.1"), 53, []),
                Ipv4Address.Parse("198.51.100.1")).IsOk);

        Assert.Contains(log.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("empty", StringComparison.Ordinal));
        using var reopened = new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path });
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public void A_folder_at_the_path_is_a_clear_error()
    {
        Directory.CreateDirectory(_file.Path);

        var error = Assert.Throws<IOException>(() => new LiteDbNatStore(new LiteDbStoreOptions { Path = _file.Path }));

        Assert.Contains("is a folder", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_file.Path));
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_read_only_table_is_a_permission_error_and_is_never_moved_aside(bool moveAside)
    {
        WriteTable(10);
        var before = File.ReadAllBytes(_file.Path);
        // The folder may be written by everyone, the table only by its owner: another user may read it, not write it.
        File.SetUnixFileMode(_file.Folder, (UnixFileMode)0x1FF); // 0777
        File.SetUnixFileMode(_file.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        string answer = AsAnotherUser.OpenStore(_file.Path, moveAside);

        Assert.StartsWith(nameof(UnauthorizedAccessException), answer);
        Assert.Contains("read and write access", answer);
        Assert.DoesNotContain("cannot be used", answer);
        Assert.Equal(before, File.ReadAllBytes(_file.Path));
        Assert.Empty(Directory.GetFiles(_file.Folder, "nat.db.corrupt-*"));
    }

    [SkippableFact]
    public void A_read_only_folder_is_a_permission_error()
    {
        WriteTable(10);
        var before = File.ReadAllBytes(_file.Path);
        File.SetUnixFileMode(_file.Folder, (UnixFileMode)0x1ED); // 0755: others may enter and read, not create
        File.SetUnixFileMode(_file.Path, (UnixFileMode)0x1B6);   // 0666: the table itself is writable

        string answer = AsAnotherUser.OpenStore(_file.Path, moveAside: true);

        Assert.StartsWith(nameof(UnauthorizedAccessException), answer);
        Assert.Contains("folder", answer);
        Assert.Equal(before, File.ReadAllBytes(_file.Path));
        Assert.Empty(Directory.GetFiles(_file.Folder, "nat.db.corrupt-*"));
    }

    /// <summary>
    /// Opens a store in a child process that cannot bypass file permissions: as root (CI) the child runs as <c>nobody</c>
    /// from a copy of the test binaries it can read; as another user the permissions already apply in process.
    /// </summary>
    private static class AsAnotherUser
    {
        public static string OpenStore(string path, bool moveAside)
        {
            if (Environment.UserName != "root") return OpenHere(path, moveAside);
            Skip.IfNot(File.Exists("/usr/bin/setpriv"), "setpriv (util-linux) is needed to run the child as nobody");
            var copy = Directory.CreateTempSubdirectory("natframework-litedb-child-").FullName;
            try
            {
                foreach (var file in Directory.GetFiles(AppContext.BaseDirectory)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
                File.SetUnixFileMode(copy, (UnixFileMode)0x1ED);
                var start = new ProcessStartInfo("/usr/bin/setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var argument in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", Path.Combine(copy, Path.GetFileName(typeof(Program).Assembly.Location)), "child-open", path })
                    start.ArgumentList.Add(argument);
                if (moveAside) start.ArgumentList.Add("move-aside");
                start.Environment["DOTNET_EnableDiagnostics"] = "0";
                start.Environment["HOME"] = copy;
                using var child = Process.Start(start)!;
                var error = child.StandardError.ReadToEndAsync();
                string output = child.StandardOutput.ReadToEnd().Trim();
                child.WaitForExit();
                Assert.True(child.ExitCode == 0 && output.Length > 0, $"the child as nobody failed ({child.ExitCode}): {output} {error.Result}");
                return output;
            }
            finally
            {
                Directory.Delete(copy, recursive: true);
            }
        }

        private static string OpenHere(string path, bool moveAside)
        {
            try
            {
                using var store = new LiteDbNatStore(new LiteDbStoreOptions { Path = path, MoveAsideCorruptFile = moveAside });
                return $"opened {store.Count}";
            }
            catch (Exception e)
            {
                return $"{e.GetType().Name}: {e.Message}";
            }
        }
    }
}
