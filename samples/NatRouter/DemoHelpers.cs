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
                ["helper-tcp-echo-peers", var ip, var port] => TcpEcho(IPAddress.Parse(ip), int.Parse(port), printPeers: true),
                ["helper-tcp-many", var ip, var port, var count] => TcpMany(IPAddress.Parse(ip), int.Parse(port), int.Parse(count)),
                ["helper-tcp-churn", var ip, var port, var count] => TcpChurn(IPAddress.Parse(ip), int.Parse(port), int.Parse(count)),
                ["helper-tcp-rate", var ip, var port, var seconds] => TcpRate(IPAddress.Parse(ip), int.Parse(port), double.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture)),
                ["helper-udp-flows", var ip, var port, var count] => UdpFlows(IPAddress.Parse(ip), int.Parse(port), int.Parse(count)),
                ["helper-udp-whoami", var ip, var port] => UdpWhoAmI(IPAddress.Parse(ip), int.Parse(port)),
                ["helper-udp-peer", var ip, var port] => UdpPeer(IPAddress.Parse(ip), int.Parse(port)),
                ["helper-udp-send-from", var ip, var to, var port, var text] => UdpSendFrom(IPAddress.Parse(ip), IPAddress.Parse(to), int.Parse(port), text),
                ["helper-tcp-whoami", var ip, var port] => TcpWhoAmI(IPAddress.Parse(ip), int.Parse(port)),
                ["helper-tcp-peer", var ip, var port, var whoami, var whoamiPort] => TcpPeer(new IPEndPoint(IPAddress.Parse(ip), int.Parse(port)),
                    new IPEndPoint(IPAddress.Parse(whoami), int.Parse(whoamiPort)), target: null),
                ["helper-tcp-peer", var ip, var port, var whoami, var whoamiPort, var target, var targetPort] => TcpPeer(new IPEndPoint(IPAddress.Parse(ip), int.Parse(port)),
                    new IPEndPoint(IPAddress.Parse(whoami), int.Parse(whoamiPort)), new IPEndPoint(IPAddress.Parse(target), int.Parse(targetPort))),
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
    private static int TcpEcho(IPAddress ip, int port, bool printPeers = false)
    {
        var listener = new TcpListener(ip, port);
        listener.Start(1024);
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        while (true)
        {
            var client = listener.AcceptTcpClient();
            // The endpoint each connection came from, one line each, as the server saw it (after the NAT).
            if (printPeers) Console.Out.WriteLine($"peer {client.Client.RemoteEndPoint}");
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
    /// Opens, uses and closes one connection after another for <paramref name="seconds"/> (each: connect, a message and
    /// its echo, our FIN, the server's FIN) and prints how many per second, after 50 that warm up the code: the
    /// connection rate the path through the NAT allows one client.
    /// </summary>
    private static int TcpRate(IPAddress ip, int port, double seconds)
    {
        var message = Encoding.ASCII.GetBytes("rate\n");
        var echo = new byte[message.Length];
        var drain = new byte[64];
        bool OneConnection()
        {
            using var client = new TcpClient { NoDelay = true };
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                client.ConnectAsync(ip, port, timeout.Token).AsTask().GetAwaiter().GetResult();
                var stream = client.GetStream();
                stream.Write(message);
                stream.ReadExactlyAsync(echo, timeout.Token).AsTask().GetAwaiter().GetResult();
                client.Client.Shutdown(SocketShutdown.Send);
                while (stream.ReadAsync(drain, timeout.Token).AsTask().GetAwaiter().GetResult() > 0) { }
                return true;
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                return false;
            }
        }

        for (int i = 0; i < 50; i++) OneConnection();
        int done = 0, failed = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            if (OneConnection()) done++;
            else failed++;
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        Console.Out.WriteLine($"{done} connections in {elapsed:F2} s ({done / elapsed:F0} per second), {failed} failed");
        return failed == 0 ? 0 : 1;
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

    /// <summary>Answers every datagram with the endpoint it came from, as text: what a STUN server tells a client.</summary>
    private static int UdpWhoAmI(IPAddress ip, int port)
    {
        using var udp = new UdpClient(new IPEndPoint(ip, port));
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        while (true)
        {
            IPEndPoint? from = null;
            udp.Receive(ref from);
            var answer = Encoding.ASCII.GetBytes(from.ToString());
            udp.Send(answer, answer.Length, from);
        }
    }

    /// <summary>
    /// A UDP socket the test steers: bound to <paramref name="ip"/>:<paramref name="port"/>, it prints every datagram it
    /// receives as <c>from ADDRESS:PORT TEXT</c>, and sends what standard input says (<c>send ADDRESS PORT TEXT</c>).
    /// </summary>
    private static int UdpPeer(IPAddress ip, int port)
    {
        using var udp = new UdpClient(new IPEndPoint(ip, port));
        var output = new object();
        var receiving = new Thread(() =>
        {
            try
            {
                while (true)
                {
                    IPEndPoint? from = null;
                    var datagram = udp.Receive(ref from);
                    lock (output)
                    {
                        Console.Out.WriteLine($"from {from} {Encoding.ASCII.GetString(datagram)}");
                        Console.Out.Flush();
                    }
                }
            }
            catch (ObjectDisposedException)
            {
            }
            catch (SocketException)
            {
            }
        }) { IsBackground = true };
        receiving.Start();
        lock (output)
        {
            Console.Out.WriteLine("listening");
            Console.Out.Flush();
        }
        string? line;
        while ((line = Console.In.ReadLine()) is not null)
        {
            if (line.Split(' ', 4) is ["send", var to, var toPort, var text])
            {
                var bytes = Encoding.ASCII.GetBytes(text);
                udp.Send(bytes, bytes.Length, new IPEndPoint(IPAddress.Parse(to), int.Parse(toPort)));
            }
        }
        return 0;
    }

    /// <summary>Sends one datagram from <paramref name="ip"/> (any port) to <paramref name="to"/>:<paramref name="port"/>.</summary>
    private static int UdpSendFrom(IPAddress ip, IPAddress to, int port, string text)
    {
        using var udp = new UdpClient(new IPEndPoint(ip, 0));
        var bytes = Encoding.ASCII.GetBytes(text);
        udp.Send(bytes, bytes.Length, new IPEndPoint(to, port));
        Console.Out.WriteLine("sent");
        return 0;
    }

    /// <summary>Tells every connection the endpoint it came from, as a line, and closes it.</summary>
    private static int TcpWhoAmI(IPAddress ip, int port)
    {
        var listener = new TcpListener(ip, port);
        listener.Start();
        Console.Out.WriteLine("listening");
        Console.Out.Flush();
        while (true)
        {
            // Closed after the answer: the client may keep its side open (half-closed), and its mapping with it.
            using var client = listener.AcceptTcpClient();
            client.GetStream().Write(Encoding.ASCII.GetBytes(client.Client.RemoteEndPoint + "\n"));
        }
    }

    /// <summary>
    /// A TCP endpoint for hole punching and hairpinning: from <paramref name="local"/> it asks <paramref name="whoami"/>
    /// which public endpoint it has (<c>mapped ADDRESS:PORT</c>) and keeps that connection open, so the mapping stays.
    /// Without a <paramref name="target"/> it then accepts connections on the same local endpoint, printing
    /// <c>accepted from ADDRESS:PORT</c> and answering each with the endpoint it saw; with one, it connects there from the
    /// same local endpoint and prints the answer (<c>answer TEXT</c>).
    /// </summary>
    private static int TcpPeer(IPEndPoint local, IPEndPoint whoami, IPEndPoint? target)
    {
        using var mapping = SharedPortSocket(local);
        mapping.Connect(whoami);
        using var mappingReader = new StreamReader(new NetworkStream(mapping), Encoding.ASCII);
        string mapped = mappingReader.ReadLine() ?? "";
        if (target is null)
        {
            using var listener = SharedPortSocket(local);
            listener.Listen(16);
            Console.Out.WriteLine("listening");
            Console.Out.WriteLine($"mapped {mapped}");
            Console.Out.Flush();
            while (true)
            {
                using var accepted = listener.Accept();
                Console.Out.WriteLine($"accepted from {accepted.RemoteEndPoint}");
                Console.Out.Flush();
                accepted.Send(Encoding.ASCII.GetBytes($"{accepted.RemoteEndPoint}\n"));
                accepted.Shutdown(SocketShutdown.Send);
                while (accepted.Receive(new byte[64]) > 0) { }
            }
        }
        Console.Out.WriteLine("listening");
        Console.Out.WriteLine($"mapped {mapped}");
        Console.Out.Flush();
        using var connection = SharedPortSocket(local);
        connection.Connect(target);
        using var reader = new StreamReader(new NetworkStream(connection), Encoding.ASCII);
        Console.Out.WriteLine($"answer {reader.ReadLine()}");
        return 0;
    }

    /// <summary>A TCP socket bound to <paramref name="local"/> with SO_REUSEPORT, so a listener and connections can share the endpoint.</summary>
    private static Socket SharedPortSocket(IPEndPoint local)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000, SendTimeout = 10_000 };
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1)); // SOL_SOCKET, SO_REUSEPORT (Linux)
        socket.Bind(local);
        return socket;
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
