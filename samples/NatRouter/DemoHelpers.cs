using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace NatRouter;

/// <summary>
/// Small programs the demo runs inside its namespaces (as this binary with a helper-… argument), so it needs nothing
/// but the .NET SDK: an HTTP server and client that check every byte, a UDP echo server and client, a TCP echo
/// server with clients holding many connections at once or opening and closing them one after another, UDP flows from many
/// ports at once, and a long-lived TCP conversation the test steers line by line.
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
                ["helper-tcp-echo", var ip, var port] => TcpEcho(IPAddress.Parse(ip), int.Parse(port)),
                ["helper-tcp-many", var ip, var port, var count] => TcpMany(IPAddress.Parse(ip), int.Parse(port), int.Parse(count)),
                ["helper-tcp-churn", var ip, var port, var count] => TcpChurn(IPAddress.Parse(ip), int.Parse(port), int.Parse(count)),
                ["helper-udp-flows", var ip, var port, var count] => UdpFlows(IPAddress.Parse(ip), int.Parse(port), int.Parse(count)),
                ["helper-tcp-talk-server", var ip, var port] => TalkServer(IPAddress.Parse(ip), int.Parse(port)),
                ["helper-tcp-talk-client", var ip, var port] => TalkClient(IPAddress.Parse(ip), int.Parse(port)),
                _ => 2,
            };
        }
        catch (Exception e) when (e is SocketException or IOException or HttpRequestException or OperationCanceledException)
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

    /// <summary>Echoes every connection's bytes back, any number of connections at once.</summary>
    private static int TcpEcho(IPAddress ip, int port)
    {
        var listener = new TcpListener(ip, port);
        listener.Start(1024);
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        while (true)
        {
            var client = listener.AcceptTcpClient();
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    int read;
                    while ((read = await stream.ReadAsync(buffer)) > 0) await stream.WriteAsync(buffer.AsMemory(0, read));
                }
            });
        }
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections, all before any is used or closed, then sends a message of its own on
    /// each and checks the echo: the NAT holds that many connections at once, each mapped to its own port.
    /// </summary>
    private static int TcpMany(IPAddress ip, int port, int count)
    {
        var clients = new List<TcpClient>();
        try
        {
            var connecting = Enumerable.Range(0, count).Select(async _ =>
            {
                var client = new TcpClient();
                lock (clients) clients.Add(client);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await client.ConnectAsync(ip, port, timeout.Token);
            }).ToArray();
            Task.WaitAll(connecting);
            var talking = clients.Select(async (client, i) =>
            {
                var message = Encoding.ASCII.GetBytes($"connection {i:D5}\n");
                var stream = client.GetStream();
                await stream.WriteAsync(message);
                var echo = new byte[message.Length];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await stream.ReadExactlyAsync(echo, timeout.Token);
                return echo.AsSpan().SequenceEqual(message);
            }).ToArray();
            Task.WaitAll(talking);
            int echoed = talking.Count(t => t.Result);
            Console.Out.WriteLine($"{echoed} of {count} connections open at once echoed their own message");
            return echoed == count ? 0 : 1;
        }
        catch (AggregateException e)
        {
            Console.Out.WriteLine($"error: {e.InnerException?.Message}");
            return 1;
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    /// <summary>
    /// Opens <paramref name="count"/> short connections one after another, each sending a message, reading its echo and
    /// closing cleanly (a FIN each way, no RST): what a busy client does to a NAT's table.
    /// </summary>
    private static int TcpChurn(IPAddress ip, int port, int count)
    {
        int echoed = 0;
        for (int i = 0; i < count; i++)
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            client.ConnectAsync(ip, port, timeout.Token).AsTask().GetAwaiter().GetResult();
            var stream = client.GetStream();
            var message = Encoding.ASCII.GetBytes($"short {i:D5}\n");
            stream.Write(message);
            var echo = new byte[message.Length];
            stream.ReadExactlyAsync(echo, timeout.Token).AsTask().GetAwaiter().GetResult();
            // Our FIN first, then the server's: read to the end before closing, so nothing unread turns the close into a RST.
            client.Client.Shutdown(SocketShutdown.Send);
            while (stream.ReadAsync(new byte[64], timeout.Token).AsTask().GetAwaiter().GetResult() > 0) { }
            if (echo.AsSpan().SequenceEqual(message)) echoed++;
        }
        Console.Out.WriteLine($"{echoed} of {count} short connections echoed and closed");
        return echoed == count ? 0 : 1;
    }

    /// <summary>
    /// Sends one datagram from each of <paramref name="count"/> sockets (each its own flow) and counts, after a second,
    /// how many were echoed: how many flows the NAT let through.
    /// </summary>
    private static int UdpFlows(IPAddress ip, int port, int count)
    {
        var sockets = Enumerable.Range(0, count).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToList();
        try
        {
            var message = Encoding.ASCII.GetBytes("one flow of many");
            foreach (var socket in sockets)
            {
                socket.Connect(ip, port);
                socket.Send(message);
            }
            Thread.Sleep(1000);
            var reply = new byte[512];
            int echoed = sockets.Count(s => s.Available > 0 && s.Receive(reply) == message.Length);
            Console.Out.WriteLine($"{echoed} of {count} flows echoed");
            return 0;
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// Accepts one connection and then, for each line on standard input, sends it and prints <c>echoed LINE</c> when the
    /// client has sent it back: the server speaks first, so after a router restart its packet is the first of the flow
    /// the new router sees — it only gets through if the connection's mapping survived.
    /// </summary>
    private static int TalkServer(IPAddress ip, int port)
    {
        var listener = new TcpListener(ip, port);
        listener.Start();
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        using var client = listener.AcceptTcpClient();
        listener.Stop();
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        Console.Out.WriteLine($"connected from {client.Client.RemoteEndPoint}");
        Console.Out.Flush();
        string? line;
        while ((line = Console.In.ReadLine()) is not null)
        {
            stream.Write(Encoding.ASCII.GetBytes(line + "\n"));
            string? echo = reader.ReadLine();
            Console.Out.WriteLine(echo == line ? $"echoed {line}" : $"error: got '{echo}' for '{line}'");
            Console.Out.Flush();
        }
        return 0;
    }

    /// <summary>Connects and sends back every line the server sends, until the server closes.</summary>
    private static int TalkClient(IPAddress ip, int port)
    {
        using var client = new TcpClient();
        client.Connect(ip, port);
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        Console.Out.WriteLine("listening"); // connected: the test may go on
        Console.Out.Flush();
        string? line;
        while ((line = reader.ReadLine()) is not null) stream.Write(Encoding.ASCII.GetBytes(line + "\n"));
        return 0;
    }
}
