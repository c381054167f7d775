using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NatFramework.Stores.Redis.Tests;

/// <summary>
/// A private, throwaway Redis Cluster on loopback: three masters and three replicas (redis-server
/// <c>--cluster-enabled yes</c> on six free ports, each node in its own folder under one temporary folder, joined with
/// <c>redis-cli --cluster create … --cluster-replicas 1 --cluster-yes</c>), ready when every node reports
/// <c>cluster_state:ok</c> and knows all six, and every master's replica is online. Nodes append every change to their own file as the single-server fixture
/// does. Every node is stopped by its own process and the folder deleted on dispose, also after a failed start.
/// </summary>
public sealed class RedisCluster : IDisposable
{
    private const int Masters = 3, Nodes = 6;
    private readonly string _directory = Directory.CreateTempSubdirectory("natframework-redis-cluster-").FullName;
    private readonly List<(int Port, Process Process)> _nodes = new();

    public RedisCluster()
    {
        Executable = FindExecutable("redis-server");
        Cli = FindExecutable("redis-cli");
        if (Executable is null || Cli is null) return;
        try
        {
            var ports = FreePorts(Nodes);
            foreach (int port in ports) _nodes.Add((port, StartNode(port)));
            var create = RunCli(TimeSpan.FromSeconds(60), ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "1", "--cluster-yes"]);
            if (create.ExitCode != 0) throw new InvalidOperationException($"redis-cli --cluster create failed: {create.Output}");
            WaitUntilReady(TimeSpan.FromSeconds(30));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>redis-server, or null when it is not installed (tests/run.sh installs it).</summary>
    public string? Executable { get; }

    /// <summary>redis-cli (installed with redis-server).</summary>
    public string? Cli { get; }

    /// <summary>Why the cluster cannot run here, or null when it runs.</summary>
    public string? WhyNot => Executable is null || Cli is null ? "redis-server is not installed (bash tests/run.sh installs it as root)" : null;

    /// <summary>A StackExchange.Redis connection string naming every node: the client learns the slot map from any of them.</summary>
    public string Configuration => string.Join(',', _nodes.Select(n => $"127.0.0.1:{n.Port}"));

    /// <summary>The ports of the nodes that are masters now, as the cluster itself says.</summary>
    public IReadOnlyList<int> MasterPorts => ClusterNodes().Where(n => n.Flags.Contains("master") && !n.Flags.Contains("fail")).Select(n => n.Port).ToList();

    /// <summary>The port of the master serving <paramref name="key"/>'s slot.</summary>
    public int MasterOf(string key)
    {
        var slot = RunCli(TimeSpan.FromSeconds(10), ["-p", _nodes.First(n => !n.Process.HasExited).Port.ToString(CultureInfo.InvariantCulture), "cluster", "keyslot", key]).Output.Trim();
        int value = int.Parse(slot, CultureInfo.InvariantCulture);
        foreach (var node in ClusterNodes())
            if (node.Flags.Contains("master") && !node.Flags.Contains("fail") && node.Slots.Any(r => value >= r.From && value <= r.To)) return node.Port;
        throw new InvalidOperationException($"no master serves slot {value}");
    }

    /// <summary>Kills the node on <paramref name="port"/> at once (SIGKILL), as a crash of its machine would.</summary>
    public void Kill(int port)
    {
        var (_, process) = _nodes.Single(n => n.Port == port);
        if (process.HasExited) return;
        process.Kill();
        process.WaitForExit();
    }

    /// <summary>True once a live node serves <paramref name="key"/>'s slot as master and the cluster says it is ok.</summary>
    public bool Serves(string key)
    {
        try
        {
            int master = MasterOf(key);
            return _nodes.Any(n => n.Port == master && !n.Process.HasExited)
                && Command(master, "cluster", "info").Contains("cluster_state:ok", StringComparison.Ordinal);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The cluster's id of the node on <paramref name="port"/>.</summary>
    public string NodeId(int port) => Command(port, "cluster", "myid").Trim();

    /// <summary>The slot of <paramref name="key"/>.</summary>
    public int SlotOf(string key) => int.Parse(Command(MasterPorts[0], "cluster", "keyslot", key).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Runs a redis-cli command against the node on <paramref name="port"/> and returns its output.</summary>
    public string Command(int port, params string[] command)
    {
        var result = RunCli(TimeSpan.FromSeconds(30), ["-p", port.ToString(CultureInfo.InvariantCulture), .. command]);
        if (result.ExitCode != 0) throw new InvalidOperationException($"redis-cli {string.Join(' ', command)} failed: {result.Output}");
        return result.Output;
    }

    private Process StartNode(int port)
    {
        string folder = Path.Combine(_directory, port.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        var start = new ProcessStartInfo(Executable!) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        foreach (var argument in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                     "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "yes", "--appendfsync", "no",
                     "--dir", folder, "--daemonize", "no", "--protected-mode", "no" })
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.StandardOutput.ReadToEndAsync();
        process.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Answers(port))
        {
            if (DateTime.UtcNow > deadline || process.HasExited) throw new InvalidOperationException($"redis-server (cluster node) did not start on port {port}");
            Thread.Sleep(20);
        }
        return process;
    }

    private void WaitUntilReady(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            bool ready = _nodes.All(n =>
            {
                var info = RunCli(TimeSpan.FromSeconds(5), ["-p", n.Port.ToString(CultureInfo.InvariantCulture), "cluster", "info"]).Output;
                return info.Contains("cluster_state:ok", StringComparison.Ordinal) && info.Contains($"cluster_known_nodes:{Nodes}", StringComparison.Ordinal);
            });
            // And every master's replica has finished its first sync (until then WAIT counts no replica).
            if (ready && MasterPorts is { Count: Masters } masters
                && masters.All(m => Command(m, "info", "replication").Contains("state=online", StringComparison.Ordinal))) return;
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException("the Redis cluster did not become ready: " + Command(_nodes[0].Port, "cluster", "nodes"));
            Thread.Sleep(100);
        }
    }

    private sealed record Node(int Port, string Flags, IReadOnlyList<(int From, int To)> Slots);

    private IReadOnlyList<Node> ClusterNodes()
    {
        // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot> <slot> ...
        var nodes = new List<Node>();
        foreach (var line in Command(_nodes.First(n => !n.Process.HasExited).Port, "cluster", "nodes").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            int port = int.Parse(fields[1].Split('@')[0].Split(':')[1], CultureInfo.InvariantCulture);
            var slots = fields.Skip(8).Where(f => !f.StartsWith('[')).Select(f =>
            {
                var range = f.Split('-');
                return (int.Parse(range[0], CultureInfo.InvariantCulture), int.Parse(range[^1], CultureInfo.InvariantCulture));
            }).ToList();
            nodes.Add(new Node(port, fields[2], slots));
        }
        return nodes;
    }

    private (int ExitCode, string Output) RunCli(TimeSpan timeout, string[] arguments)
    {
        var start = new ProcessStartInfo(Cli!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            process.WaitForExit();
        }
        return (process.ExitCode, output.Result + error.Result);
    }

    private static bool Answers(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            var stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            var buffer = new byte[64];
            int read = stream.Read(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Free ports whose cluster bus ports (port + 10000) are free too: the listeners are held until all are found, so
    /// no two are the same.
    /// </summary>
    private static List<int> FreePorts(int count)
    {
        var held = new List<TcpListener>();
        var ports = new List<int>();
        try
        {
            while (ports.Count < count)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                held.Add(listener);
                int port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (port + 10000 > 65535) continue;
                try
                {
                    var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                    bus.Start();
                    held.Add(bus);
                    ports.Add(port);
                }
                catch (SocketException)
                {
                    // the bus port is taken: leave this port held (so it is not offered again) and try another
                }
            }
            return ports;
        }
        finally
        {
            held.ForEach(l => l.Stop());
        }
    }

    private static string? FindExecutable(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public void Dispose()
    {
        foreach (var (_, process) in _nodes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit();
                }
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
        _nodes.Clear();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
