using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// A private, throwaway redis-server on a free loopback port in its own temporary folder, with an append-only file:
/// Redis writes each change to it before replying, so a killed and restarted server keeps everything it acknowledged
/// (fsync is left to the OS; only a machine crash could lose the tail). Stopped and deleted on dispose.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("natframework-redis-").FullName;
    private readonly string? _password;
    private Process? _process;

    public RedisServer(string? password = null)
    {
        _password = password;
        Executable = FindExecutable();
        if (Executable is null) return;
        Port = FreePort();
        Start();
    }

    /// <summary>True when redis-server is installed (checked without starting one).</summary>
    public static bool IsInstalled => FindExecutable() is not null;

    /// <summary>The redis-server binary, or null when it is not installed (tests/run.sh installs it).</summary>
    public string? Executable { get; }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}" + (_password is null ? "" : $",password={_password}");

    public bool IsRunning => _process is { HasExited: false };

    public void Start()
    {
        var start = new ProcessStartInfo(Executable!) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _directory };
        foreach (var argument in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "no",
                     "--dir", _directory, "--daemonize", "no", "--protected-mode", "no" })
            start.ArgumentList.Add(argument);
        if (_password is not null)
        {
            start.ArgumentList.Add("--requirepass");
            start.ArgumentList.Add(_password);
        }
        _process = Process.Start(start)!;
        _process.StandardOutput.ReadToEndAsync();
        _process.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Answers())
        {
            if (DateTime.UtcNow > deadline || _process.HasExited) throw new InvalidOperationException($"redis-server did not start on port {Port}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Kills the server at once (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        if (_process is null || _process.HasExited) return;
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>Stops the server without closing its connections (SIGSTOP): a hung Redis, as a stalled machine or a long fork looks.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>Lets a paused server go on (SIGCONT).</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        if (_process is null || _process.HasExited) return;
        using var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private bool Answers()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            var buffer = new byte[64];
            int read = stream.Read(buffer);
            var reply = Encoding.ASCII.GetString(buffer, 0, read);
            return reply.StartsWith("+PONG", StringComparison.Ordinal) || reply.StartsWith("-NOAUTH", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string? FindExecutable()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(directory, "redis-server");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public void Dispose()
    {
        Kill();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
