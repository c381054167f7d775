using System.Diagnostics;
using NatFramework;
using NatFramework.Stores.Redis;
using NatFramework.Stores.Redis.Tests;
using Xunit.Abstractions;

namespace NatRouter.Tests;

/// <summary>
/// Three routers, each between its own pair of TUN interfaces, translating to the same public address on one Redis table
/// (a single server, a cluster of three masters and three replicas, and that cluster with the table spread over three
/// shards, one per master), with new connections arriving through all three
/// at once: no two connections get one public endpoint — checked in the table afterwards and by the servers, which see
/// only distinct source ports. Root only.
/// </summary>
public sealed class SharedTableTests(ITestOutputHelper output)
{
    private const int ConnectionsPerRouter = 200;

    [SkippableTheory]
    [InlineData("server")]
    [InlineData("cluster")]
    [InlineData("sharded cluster")]
    public async Task Three_routers_on_one_table_never_give_two_connections_one_public_endpoint(string redis)
    {
        string? reason = RouterNetwork.WhyNot("redis");
        Skip.If(reason is not null, reason);
        using var server = redis == "server" ? new RedisServer() : null;
        using var cluster = redis != "server" ? new RedisCluster() : null;
        int shards = redis == "sharded cluster" ? 3 : 1;
        string configuration = server?.Configuration ?? cluster!.Configuration;
        var networks = new List<RouterNetwork>();
        try
        {
            // One inside network's hosts behind three routers, as on a real network: here each router's namespace holds
            // its own hosts (10.77.0.2, .12, .22). The table knows inside hosts by address, so routers sharing a table
            // must serve one address space: two copies of 10.77.0.2 would be one host to it.
            for (int i = 0; i < 3; i++) networks.Add(new RouterNetwork("redis", redisConfiguration: configuration, firstInsideHost: 2 + 10 * i, redisShards: shards));
            var echoes = networks.Select(n => n.StartHelper(n.Outside, "helper-tcp-echo-peers", "198.51.100.2", "7000")).ToList();

            // A few connections first, to another server port, so that the rate below is not the first packets' (the
            // test process compiles the routers' code as it goes, unlike the router binary, which warms up before ready).
            foreach (var n in networks) n.StartHelper(n.Outside, "helper-tcp-echo", "198.51.100.2", "7002");
            await Task.WhenAll(networks.Select(n => Task.Run(() => n.Helper(n.Inside, "helper-tcp-many", "198.51.100.2", "7002", "20"))));
            var clock = Stopwatch.StartNew();
            var runs = networks.Select(n => Task.Run(() =>
            {
                var result = n.Helper(n.Inside, "helper-tcp-many", "198.51.100.2", "7000", ConnectionsPerRouter.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return (result.ExitCode, result.Output, Elapsed: clock.Elapsed);
            })).ToList();
            var results = await Task.WhenAll(runs);

            for (int i = 0; i < 3; i++)
            {
                Assert.True(results[i].ExitCode == 0, $"router {i}: {results[i].Output} ({networks[i].Router.Counters})");
                Assert.Contains($"{ConnectionsPerRouter} of {ConnectionsPerRouter}", results[i].Output);
                output.WriteLine($"router {i}: {ConnectionsPerRouter} connections set up and echoed in {results[i].Elapsed.TotalSeconds:F2} s " +
                    $"({ConnectionsPerRouter / results[i].Elapsed.TotalSeconds:F0}/s); router: {networks[i].Router.Counters}");
            }

            // What the servers saw: every connection from the public address, no source port twice across all three.
            var seen = new List<string>();
            foreach (var echo in echoes)
            {
                for (int n = 0; n < ConnectionsPerRouter; n++)
                {
                    var line = RouterNetwork.ReadLine(echo, TimeSpan.FromSeconds(10));
                    Assert.NotNull(line);
                    Assert.StartsWith("peer 198.51.100.1:", line);
                    seen.Add(line!["peer 198.51.100.1:".Length..]);
                }
            }
            Assert.Equal(3 * ConnectionsPerRouter, seen.Distinct().Count());

            // What the table holds: as many connections to the server, each on its own public port.
            using var store = new RedisNatStore(new RedisStoreOptions { Configuration = configuration, OperationTimeout = TimeSpan.FromSeconds(2), Shards = shards });
            var ports = new List<ushort>();
            await foreach (var connection in store.GetConnectionsAsync())
                if (connection.Protocol == NatProtocol.Tcp && connection.ReplyKey.Source == Ipv4Address.Parse("198.51.100.2") && connection.ReplyKey.SourcePort == 7000)
                    ports.Add(connection.ReplyKey.DestinationPort);
            Assert.Equal(3 * ConnectionsPerRouter, ports.Count);
            Assert.Equal(ports.Count, ports.Distinct().Count());
            Assert.Equal(seen.Select(ushort.Parse).Order(), ports.Order());
        }
        finally
        {
            networks.ForEach(n => n.Dispose());
        }
    }
}
