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
    private readonly bool _tls;
    private Process? _process;

    /// <param name="password">The default user's password (requirepass), if any.</param>
    /// <param name="tls">
    /// Serve TLS only (no plain port): a certificate for localhost and 127.0.0.1 signed by a throwaway CA made here with
    /// openssl (<see cref="CaCertificate"/>); clients need no certificate of their own.
    /// </param>
    public RedisServer(string? password = null, bool tls = false)
    {
        _password = password;
        _tls = tls;
        Executable = FindExecutable();
        if (Executable is null) return;
        Port = FreePort();
        if (tls) MakeCertificates();
        Start();
    }

    /// <summary>True when openssl is installed, which a TLS server needs for its certificates (tests/run.sh installs it).</summary>
    public static bool CanServeTls => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Any(d => File.Exists(Path.Combine(d, "openssl")));

    /// <summary>The CA certificate that signed a TLS server's certificate (PEM).</summary>
    public string CaCertificate => Path.Combine(_directory, "ca.crt");

    private void MakeCertificates()
    {
        File.WriteAllText(Path.Combine(_directory, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        foreach (var command in new[]
                 {
                     "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=natframework-test-ca",
                     "req -newkey rsa:2048 -nodes -keyout redis.key -out redis.csr -subj /CN=localhost",
                     "x509 -req -in redis.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out redis.crt -days 2 -extfile san.ext",
                 })
        {
            var start = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _directory };
            foreach (var argument in command.Split(' ')) start.ArgumentList.Add(argument);
            using var openssl = Process.Start(start)!;
            string output = openssl.StandardOutput.ReadToEnd() + openssl.StandardError.ReadToEnd();
            openssl.WaitForExit();
            if (openssl.ExitCode != 0) throw new InvalidOperationException($"openssl {command} failed: {output}");
        }
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
        if (_tls)
        {
            // The same port, TLS only.
            int at = start.ArgumentList.IndexOf("--port");
            start.ArgumentList[at + 1] = "0";
            foreach (var argument in new[] { "--tls-port", Port.ToString(), "--tls-cert-file", "redis.crt", "--tls-key-file", "redis.key",
                         "--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no" })
                start.ArgumentList.Add(argument);
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
            if (_tls) return true; // listening; the TLS handshake is the client's to check
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
