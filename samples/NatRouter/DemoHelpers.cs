using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace NatRouter;

/// <summary>
/// Small programs the demo runs inside its namespaces (as this binary with a helper-… argument), so it needs nothing
/// but the .NET SDK: an HTTP server and client that check every byte, and a UDP echo server and client.
/// </summary>
internal static class DemoHelpers
{
    /// <summary>How to run this binary again (inside a namespace): the host and the arguments before the helper's own.</summary>
    public static (string File, string[] Prefix) SelfCommand() => SelfCommand(typeof(DemoHelpers).Assembly.Location);

    /// <summary>Runs the router assembly at <paramref name="routerAssembly"/> with the dotnet host (from a test, or the demo under `dotnet`).</summary>
    public static (string File, string[] Prefix) SelfCommand(string routerAssembly)
    {
        string process = Environment.ProcessPath!;
        string name = Path.GetFileNameWithoutExtension(process);
        if (name == "NatRouter") return (process, []); // the apphost: the router itself
        return (name == "dotnet" ? process : "dotnet", [routerAssembly]);
    }

    public static int Run(string[] args)
    {
        try
        {
            return args switch
            {
                ["helper-http-serve", var ip, var port, var size] => HttpServe(IPAddress.Parse(ip), int.Parse(port), int.Parse(size)),
                ["helper-http-get", var ip, var port, var size] => HttpGet(ip, int.Parse(port), int.Parse(size)),
                ["helper-udp-echo", var ip, var port] => UdpEcho(IPAddress.Parse(ip), int.Parse(port)),
                ["helper-udp-send", var ip, var port, var expect] => UdpSend(IPAddress.Parse(ip), int.Parse(port), expect),
                _ => 2,
            };
        }
        catch (Exception e) when (e is SocketException or IOException or HttpRequestException or TaskCanceledException)
        {
            Console.Out.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>The body served for <paramref name="size"/> bytes: a fixed pattern, so the client can check it.</summary>
    private static byte[] Body(int size)
    {
        var body = new byte[size];
        for (int i = 0; i < size; i++) body[i] = (byte)(i * 31 + (i >> 8));
        return body;
    }

    private static int HttpServe(IPAddress ip, int port, int size)
    {
        var body = Body(size);
        var listener = new TcpListener(ip, port);
        listener.Start();
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        while (true)
        {
            using var client = listener.AcceptTcpClient();
            using var stream = client.GetStream();
            var request = new StringBuilder();
            var buffer = new byte[1024];
            while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                int read = stream.Read(buffer);
                if (read == 0) break;
                request.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
            stream.Write(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"));
            stream.Write(body);
        }
    }

    private static int HttpGet(string ip, int port, int size)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var started = DateTime.UtcNow;
        var bytes = http.GetByteArrayAsync($"http://{ip}:{port}/").GetAwaiter().GetResult();
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        bool same = bytes.AsSpan().SequenceEqual(Body(size));
        Console.Out.WriteLine($"{bytes.Length} bytes in {seconds:F2} s ({bytes.Length * 8 / seconds / 1e6:F0} Mbit/s), sha256 {Convert.ToHexString(SHA256.HashData(bytes))[..16]}…, {(same ? "every byte as sent" : "CONTENT DIFFERS")}");
        return same ? 0 : 1;
    }

    private static int UdpEcho(IPAddress ip, int port)
    {
        using var udp = new UdpClient(new IPEndPoint(ip, port));
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        while (true)
        {
            IPEndPoint? from = null;
            var datagram = udp.Receive(ref from);
            udp.Send(datagram, datagram.Length, from);
        }
    }

    private static int UdpSend(IPAddress ip, int port, string expect)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 1000 };
        socket.Connect(ip, port);
        var message = Encoding.ASCII.GetBytes("hello through the NAT");
        var reply = new byte[512];
        // Like any UDP client (DNS, say), try a few times: a datagram may be lost on the way, as on any network.
        for (int attempt = 1; ; attempt++)
        {
            socket.Send(message);
            try
            {
                int read = socket.Receive(reply);
                bool echoed = reply.AsSpan(0, read).SequenceEqual(message);
                Console.Out.WriteLine(echoed ? $"echoed {read} bytes" : "unexpected reply");
                return expect == "echo" && echoed ? 0 : 1;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // The kernel turns an ICMP port unreachable into ECONNREFUSED on a connected UDP socket.
                Console.Out.WriteLine("ICMP port unreachable came back (connection refused)");
                return expect == "refused" ? 0 : 1;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut && attempt < 3)
            {
            }
        }
    }
}
