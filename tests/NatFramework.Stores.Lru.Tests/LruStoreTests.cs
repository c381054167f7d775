using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NatFramework.Packets;

namespace NatFramework.Stores.Lru.Tests;

public sealed class LruStoreTests
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.1");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("198.51.100.2");

    private static byte[] Udp(int host, ushort port) => Ipv4PacketBuilder.Udp(new Ipv4Address(0x0A4D0000u + (uint)host), port, Server, 53, "x"u8);

    private static byte[] Reply(NatAddResult added) => Ipv4PacketBuilder.Udp(Server, 53, Public, added.Connection.AllocatedPort, "y"u8);

    private static bool Translates(LruNatTranslator nat, byte[] packet) => nat.Translate((byte[])packet.Clone()).IsTranslated;

    private static Ipv4Address? DeliveredTo(LruNatTranslator nat, byte[] packet)
    {
        var copy = (byte[])packet.Clone();
        if (!nat.Translate(copy).IsTranslated) return null;
        Ipv4Packet.TryParse(copy, out var ip);
        return ip.Destination;
    }

    private static (LruNatTranslator Nat, LruNatStore Store) Create(int udpCapacity, TimeProvider? time = null, ulong? hashSeed = null)
    {
        var options = new LruStoreOptions { UdpCapacity = udpCapacity };
        var store = hashSeed is { } seed ? new LruNatStore(options, seed) : new LruNatStore(options);
        return (new LruNatTranslator(store, new NatOptions(), time), store);
    }

    [Fact]
    public void A_connection_used_by_translation_outlives_one_that_was_not()
    {
        var (nat, store) = Create(udpCapacity: 2);
        var used = Udp(2, 1000);
        var idle = Udp(3, 1000);
        var idleAdded = nat.AddNat(idle, Public);
        Assert.True(nat.AddNat(used, Public).IsOk);
        Assert.True(Translates(nat, used));

        Assert.True(nat.AddNat(Udp(4, 1000), Public).IsOk);

        Assert.True(Translates(nat, used));
        Assert.False(Translates(nat, idle));
        Assert.NotEqual(idleAdded.Connection.Outbound.Source, DeliveredTo(nat, Reply(idleAdded)));
        Assert.Equal(1, store.Evictions(NatProtocol.Udp));
        store.CheckInvariants();
    }

    [Fact]
    public void Eviction_takes_both_directions_and_keeps_recently_used_connections()
    {
        var (nat, store) = Create(udpCapacity: 100);
        var added = Enumerable.Range(0, 100).Select(i => (Packet: Udp(2 + i, 2000), Result: nat.AddNat(Udp(2 + i, 2000), Public))).ToList();
        // Use the first half: its replies keep those connections referenced.
        foreach (var (_, result) in added.Take(50)) Assert.True(Translates(nat, Reply(result)));

        for (int i = 0; i < 50; i++) Assert.True(nat.AddNat(Udp(1000 + i, 3000), Public).IsOk);

        Assert.Equal(100, store.Count(NatProtocol.Udp));
        Assert.All(added.Take(50), a => Assert.True(Translates(nat, a.Packet)));
        Assert.All(added.Skip(50), a =>
        {
            Assert.False(Translates(nat, a.Packet));
            // The freed public port may already serve a new connection; it must not lead back to the evicted host.
            Assert.NotEqual(a.Result.Connection.Outbound.Source, DeliveredTo(nat, Reply(a.Result)));
        });
        store.CheckInvariants();
    }

    [Fact]
    public void Capacity_is_per_protocol()
    {
        var store = new LruNatStore(new LruStoreOptions { TcpCapacity = 3, UdpCapacity = 5, IcmpCapacity = 2 });
        var nat = new LruNatTranslator(store);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(nat.AddNat(Ipv4PacketBuilder.Tcp(new Ipv4Address(0x0A4D0002u), (ushort)(1000 + i), Server, 80, []), Public).IsOk);
            Assert.True(nat.AddNat(Udp(2, (ushort)(1000 + i)), Public).IsOk);
            Assert.True(nat.AddNat(Ipv4PacketBuilder.EchoRequest(new Ipv4Address(0x0A4D0002u), Server, (ushort)(1000 + i), 1), Public).IsOk);
        }

        Assert.Equal(3, store.Count(NatProtocol.Tcp));
        Assert.Equal(5, store.Count(NatProtocol.Udp));
        Assert.Equal(2, store.Count(NatProtocol.Icmp));
        store.CheckInvariants();
    }

    [Fact]
    public void Expired_connections_are_reclaimed_by_later_inserts_without_a_scan_thread()
    {
        var clock = new FakeTimeProvider();
        var (nat, store) = Create(udpCapacity: 1000, clock);
        for (int i = 0; i < 500; i++) Assert.True(nat.AddNat(Udp(2 + i, 4000), Public).IsOk);
        clock.Advance(TimeSpan.FromSeconds(301));

        // Each insert sweeps two entries: 250 inserts pass over all 500 expired ones.
        for (int i = 0; i < 250; i++) Assert.True(nat.AddNat(Udp(2 + i, 5000), Public).IsOk);

        Assert.Equal(250, store.Count(NatProtocol.Udp));
        Assert.Equal(0, store.Evictions(NatProtocol.Udp));
        Assert.Equal(500, store.Expirations(NatProtocol.Udp));
        store.CheckInvariants();
    }

    [Fact]
    public void A_full_table_evicts_expired_connections_before_referenced_ones()
    {
        var clock = new FakeTimeProvider();
        var (nat, store) = Create(udpCapacity: 4, clock);
        var old = Udp(2, 1);
        Assert.True(nat.AddNat(old, Public).IsOk);
        Assert.True(Translates(nat, old));
        clock.Advance(TimeSpan.FromSeconds(200));
        var fresh = Enumerable.Range(0, 3).Select(i => Udp(10 + i, 1)).ToList();
        foreach (var p in fresh) { Assert.True(nat.AddNat(p, Public).IsOk); Assert.True(Translates(nat, p)); }
        clock.Advance(TimeSpan.FromSeconds(150)); // "old" is now expired (350 s), the others are not (150 s)

        Assert.True(nat.AddNat(Udp(20, 1), Public).IsOk);

        Assert.All(fresh, p => Assert.True(Translates(nat, p)));
        Assert.Equal(1, store.Expirations(NatProtocol.Udp) + store.Evictions(NatProtocol.Udp));
        Assert.Equal(0, store.Evictions(NatProtocol.Udp)); // reclaimed as expired, not evicted
        store.CheckInvariants();
    }

    [Fact]
    public void A_rewrite_lookup_answers_both_directions_and_marks_the_connection_used_at_now()
    {
        var store = new LruNatStore();
        var outbound = FlowKey.Udp(Ipv4Address.Parse("10.77.0.2"), 4000, Server, 53);
        var connection = new NatConnection(outbound, outbound.WithSource(Public, 61000), lastSeen: 1_000);
        Assert.Equal(NatInsertStatus.Inserted, store.TryInsert(connection, new NatInsertRules(ExpiryCutoffs.Uniform(0)), out _));

        Assert.True(store.TryLookupRewrite(connection.OutboundKey, now: 5_000, ExpiryCutoffs.Uniform(0), out var forward));
        Assert.True(store.TryLookupRewrite(connection.ReplyKey, now: 4_000, ExpiryCutoffs.Uniform(0), out var back));

        Assert.Equal(new FlowRewrite(connection.Translated, FlowDirection.Outbound), forward);
        Assert.Equal(new FlowRewrite(outbound.Reversed, FlowDirection.Reply), back);
        Assert.True(store.TryLookup(connection.OutboundKey, ExpiryCutoffs.Uniform(0), out var seen));
        Assert.Equal(5_000, seen.Connection.LastSeen); // refreshed, and an earlier "now" did not move it back

        // Expired is absent, and a lookup does not bring it back.
        Assert.False(store.TryLookupRewrite(connection.ReplyKey, now: 9_000, ExpiryCutoffs.Uniform(6_000), out var none));
        Assert.False(none.Found);
        Assert.True(store.TryLookup(connection.OutboundKey, ExpiryCutoffs.Uniform(0), out seen));
        Assert.Equal(5_000, seen.Connection.LastSeen);
        store.CheckInvariants();
    }

    // Tables of 1,000 connections fit the cache (the plain loop); of 100,000 they do not (the pipelined lookup).
    [Theory]
    [InlineData(1_000)]
    [InlineData(100_000)]
    public void Batch_lookups_answer_like_single_lookups_whether_or_not_the_table_fits_the_cache(int capacity)
    {
        var store = new LruNatStore(new LruStoreOptions { TcpCapacity = capacity, UdpCapacity = capacity, IcmpCapacity = capacity });
        var keys = new List<FlowKey>();
        for (int i = 0; i < 200; i++)
        {
            var outbound = FlowKey.Udp(new Ipv4Address(0x0A4D0002u + (uint)(i % 7)), (ushort)(4000 + i), Server, 53);
            // Every fifth connection was last seen long ago: expired for the cutoff below.
            var connection = new NatConnection(outbound, outbound.WithSource(Public, (ushort)(20000 + i)), lastSeen: i % 5 == 0 ? 100 : 5_000);
            Assert.Equal(NatInsertStatus.Inserted, store.TryInsert(connection, new NatInsertRules(ExpiryCutoffs.Uniform(0)), out _));
            keys.Add(connection.OutboundKey);
            keys.Add(connection.ReplyKey);
            keys.Add(FlowKey.Udp(outbound.Source, (ushort)(4000 + i), Server, 54)); // never added
        }
        keys.Add(FlowKey.Tcp(Public, 1, Server, 2)); // another protocol's (empty) table, in the same batch
        var cutoffs = ExpiryCutoffs.Uniform(1_000);

        // Single answers first, with "now" equal to each entry's time, so they refresh nothing.
        var single = keys.Select(k => store.TryLookupRewrite(k, now: 0, ExpiryCutoffs.Uniform(1_000), out var r) ? r : default).ToArray();
        var singleConnections = keys.Select(k => store.TryLookup(k, ExpiryCutoffs.Uniform(1_000), out var l) ? l : default).ToArray();
        var batch = new FlowRewrite[keys.Count];
        var batchConnections = new NatLookup[keys.Count];
        store.LookupRewriteBatch(keys.ToArray(), now: 0, cutoffs, batch);
        store.LookupBatch(keys.ToArray(), cutoffs, batchConnections);

        Assert.Equal(single, batch);
        Assert.Equal(singleConnections, batchConnections);
        Assert.Equal(2 * 160, batch.Count(r => r.Found)); // both directions of the 160 live connections
        store.CheckInvariants();
    }

    [Fact]
    public void Translation_keeps_a_busy_connection_alive_past_its_idle_timeout()
    {
        var clock = new FakeTimeProvider();
        var (nat, store) = Create(udpCapacity: 16, clock);
        var packet = Udp(2, 4000);
        Assert.True(nat.AddNat(packet, Public).IsOk);

        // A packet every 100 s for 20 minutes: never idle for the UDP timeout (300 s by default).
        for (int i = 0; i < 12; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(100));
            Assert.True(Translates(nat, packet), $"packet {i}");
        }
        clock.Advance(TimeSpan.FromSeconds(301));

        Assert.False(Translates(nat, packet));
        Assert.Equal(1, store.Count(NatProtocol.Udp)); // absent to lookups; reclaimed by a later insert or sweep
    }

    [Fact]
    public void Removing_a_host_walks_only_its_connections()
    {
        var (nat, store) = Create(udpCapacity: 10_000);
        for (int i = 0; i < 5000; i++) Assert.True(nat.AddNat(Udp(2 + i % 50, (ushort)(1000 + i)), Public).IsOk);

        var freed = nat.RemoveConnections(new Ipv4Address(0x0A4D0002u));

        Assert.Equal(100, freed.Udp.Count);
        Assert.Equal(4900, store.Count(NatProtocol.Udp));
        store.CheckInvariants();
    }

    [Fact]
    public void Redirects_to_a_host_share_its_list_but_not_its_count_through_removals_and_evictions()
    {
        var (nat, store) = Create(udpCapacity: 64);
        var inside = new Ipv4Address(0x0A4D0002u);
        var random = new Random(7);
        var live = new List<FlowKey>();
        for (int i = 0; i < 400; i++)
        {
            if (i % 3 == 0)
            {
                // An outside client reaching the host through a forward: its target is the host.
                var packet = Ipv4PacketBuilder.Udp(new Ipv4Address(0xC6336400u + (uint)(i % 50) + 10), (ushort)(5000 + i), Public, 53, "q"u8);
                Assert.True(nat.AddRedirect(packet, Ipv4Address.Parse("10.77.0.1"), inside, 53).IsOk);
                live.Add(FlowKey.Udp(new Ipv4Address(0xC6336400u + (uint)(i % 50) + 10), (ushort)(5000 + i), Public, 53));
            }
            else
            {
                Assert.True(nat.AddNat(Udp(2, (ushort)(3000 + i)), Public).IsOk);
                live.Add(FlowKey.Udp(inside, (ushort)(3000 + i), Server, 53));
            }
            if (random.Next(4) == 0)
            {
                var key = live[random.Next(live.Count)];
                live.Remove(key);
                store.Remove(key, out _); // may have been evicted already
            }
            store.CheckInvariants(); // the host's count is its list's source-NAT connections, whatever left it
        }
    }

    [Fact]
    public void Mapped_connections_keep_the_mapping_index_whole_through_removals_evictions_and_expiry()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var policy = new NatPolicy
        {
            SourceNat = [new SourceNatRule(Ipv4Prefix.Parse("10.77.0.0/24"), Public)],
            UdpFiltering = NatFilteringBehavior.EndpointIndependent,
        };
        var store = new LruNatStore(new LruStoreOptions { UdpCapacity = 64 });
        var nat = new LruNatTranslator(store, new NatOptions { Policy = policy }, clock);
        var random = new Random(11);
        for (int i = 0; i < 600; i++)
        {
            // Few inside endpoints, many destinations: mappings with several connections each.
            var inside = new Ipv4Address(0x0A4D0002u + (uint)random.Next(4));
            var server = new Ipv4Address(0xC6336402u + (uint)random.Next(20));
            var packet = Ipv4PacketBuilder.Udp(inside, (ushort)(3000 + random.Next(6)), server, (ushort)(53 + random.Next(3)), "q"u8);
            var translated = nat.Translate(packet);
            Assert.True(translated.IsTranslated, translated.ToString());
            if (random.Next(5) == 0)
            {
                // An outside host answers to the mapping from a port of its own: a connection let in by the filter.
                var inbound = Ipv4PacketBuilder.Udp(new Ipv4Address(0xC6336480u + (uint)random.Next(8)), 7000, Public, (ushort)(packet[20] << 8 | packet[21]), "r"u8);
                Assert.True(nat.Translate(inbound, NatSide.Outside).IsTranslated);
            }
            if (random.Next(7) == 0) store.Remove(FlowKey.Udp(inside, (ushort)(3000 + random.Next(6)), server, 53), out _);
            if (random.Next(50) == 0) nat.RemoveConnections(inside);
            clock.Advance(TimeSpan.FromSeconds(random.Next(30)));
            store.CheckInvariants(); // every mapped connection in its mapping's list; counts per remote address exact
        }
    }

    [Fact]
    public void Removing_single_connections_from_the_middle_of_a_hosts_list_keeps_the_host_index_whole()
    {
        var (nat, store) = Create(udpCapacity: 1_000);
        var ports = Enumerable.Range(0, 60).Select(i => (ushort)(3000 + i)).ToList();
        var allocated = new Dictionary<ushort, ushort>();
        foreach (var port in ports)
        {
            var added = nat.AddNat(Udp(2, port), Public);
            Assert.True(added.IsOk);
            allocated[port] = added.Connection.AllocatedPort;
        }
        foreach (var port in ports.Take(20)) Assert.True(nat.AddNat(Udp(3, port), Public).IsOk);

        // Middle, first, last, in a shuffled order: each removal relinks the host's list.
        var random = new Random(5);
        var gone = ports.OrderBy(_ => random.Next()).Take(35).ToList();
        foreach (var port in gone)
        {
            Assert.True(store.Remove(FlowKey.Udp(new Ipv4Address(0x0A4D0002u), port, Server, 53), out _));
            store.CheckInvariants(); // every entry in its host's list, links agreeing both ways
        }

        var freed = nat.RemoveConnections(new Ipv4Address(0x0A4D0002u));
        Assert.Equal(ports.Except(gone).Select(p => allocated[p]).Order(), freed.Udp.Order());
        Assert.Equal(20, store.Count(NatProtocol.Udp));
        store.CheckInvariants();
    }

    [Fact]
    public void Removals_shift_neighbours_back_by_their_recorded_distance_also_when_it_saturated()
    {
        // Twelve flows whose outbound keys share one home slot in a 64-slot table: they sit 0-11 places from home,
        // so some distances saturate (7+) and a removal must read those from the entries. The test knows the seed.
        const ulong Seed = 0x5EED;
        var (nat, store) = Create(udpCapacity: 16, hashSeed: Seed);
        var host = new Ipv4Address(0x0A4D0002u);
        var colliding = Enumerable.Range(1024, 60_000).Select(p => (ushort)p)
            .Where(p => (new FlowKey(NatProtocol.Udp, host, p, Server, 53).Hash64(Seed) & 63) == 5).Take(12).ToList();
        foreach (var port in colliding) Assert.True(nat.AddNat(Udp(2, port), Public).IsOk);
        Assert.True(store.SaturatedSlots(NatProtocol.Udp) > 0);
        store.CheckInvariants();

        // Remove them one by one from the home end, so every removal shifts a run that holds saturated slots.
        foreach (var port in colliding.Take(6))
        {
            var key = new FlowKey(NatProtocol.Udp, host, port, Server, 53);
            Assert.True(store.Remove(key, out _));
            store.CheckInvariants(); // every slot's recorded distance, every key findable
        }
        Assert.All(colliding.Skip(6), p => Assert.True(Translates(nat, Udp(2, p))));
        Assert.All(colliding.Take(6), p => Assert.False(Translates(nat, Udp(2, p))));
    }

    [Fact]
    public void Flows_chosen_to_collide_under_one_seed_spread_out_in_a_store_with_its_own_secret_seed()
    {
        // What an inside host could do against an unseeded table: pick 300 flows whose keys share one home slot.
        const ulong KnownSeed = 0;
        var host = new Ipv4Address(0x0A4D0002u);
        int slots = 4096; // a 1,000-connection table
        var flows = new List<FlowKey>();
        for (uint server = 1; flows.Count < 300; server++)
            for (int port = 1024; port < 65536 && flows.Count < 300; port++)
            {
                var key = FlowKey.Udp(host, (ushort)port, new Ipv4Address(0xC6336400u + server), 53);
                if ((key.Hash64(KnownSeed) & (ulong)(slots - 1)) == 7) flows.Add(key);
            }

        int SaturatedAfterAdding(LruNatStore store)
        {
            var nat = new LruNatTranslator(store);
            foreach (var key in flows)
                Assert.True(nat.AddNat(Ipv4PacketBuilder.Udp(key.Source, key.SourcePort, key.Destination, key.DestinationPort, "x"u8), Public).IsOk);
            store.CheckInvariants();
            return store.SaturatedSlots(NatProtocol.Udp);
        }

        // Under the seed they were chosen for, they form one run of 300 (all but the first 7 are 7+ from home) ...
        Assert.True(SaturatedAfterAdding(new LruNatStore(new LruStoreOptions { UdpCapacity = 1_000 }, KnownSeed)) >= 290);
        // ... under a store's own random seed they scatter like any 600 keys in 4,096 slots.
        Assert.True(SaturatedAfterAdding(new LruNatStore(new LruStoreOptions { UdpCapacity = 1_000 })) < 10);
    }

    [Fact]
    public void Invalid_capacity_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LruNatStore(new LruStoreOptions { IcmpCapacity = 0 }));
        Assert.Contains("IcmpCapacity", error.Message);
    }

    [Fact]
    public void UseLruStore_registers_a_synchronous_translator_sized_from_the_options()
    {
        var services = new ServiceCollection();
        services.AddNat(o => (o.PublicAddress, o.UdpCapacity) = (Ipv4Address.Parse("198.51.100.1"), 123)).UseLruStore(o => o.TcpCapacity = 77);
        using var provider = services.BuildServiceProvider();

        var translator = provider.GetRequiredService<INatTranslator>();
        var store = provider.GetRequiredService<LruNatStore>();

        Assert.IsType<LruNatTranslator>(translator);
        Assert.Same(translator, provider.GetRequiredService<ISyncNatTranslator>());
        Assert.Equal(123, store.Capacity(NatProtocol.Udp));
        Assert.Equal(77, store.Capacity(NatProtocol.Tcp));
    }

    [Fact]
    public void UseLruStore_binds_its_options_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Lru:UdpCapacity"] = "4096" }).Build();
        var services = new ServiceCollection();
        services.AddNat(o => o.PublicAddress = Ipv4Address.Parse("198.51.100.1")).UseLruStore(configuration.GetSection("Lru"));
        using var provider = services.BuildServiceProvider();

        Assert.Equal(4096, provider.GetRequiredService<LruNatStore>().Capacity(NatProtocol.Udp));
        Assert.Equal(NatDefaults.TcpCapacity, provider.GetRequiredService<LruNatStore>().Capacity(NatProtocol.Tcp));
    }

    [Fact]
    public void UseLruStore_honours_configured_store_options_over_the_translators_capacities()
    {
        var services = new ServiceCollection();
        services.Configure<LruStoreOptions>(o => o.IcmpCapacity = 55); // registered before UseLruStore, still applied
        services.AddNat(o => (o.PublicAddress, o.UdpCapacity, o.TcpCapacity) = (Ipv4Address.Parse("198.51.100.1"), 123, 456)).UseLruStore();
        services.Configure<LruStoreOptions>(o => o.UdpCapacity = 321);
        using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<LruNatStore>();

        Assert.Equal(321, store.Capacity(NatProtocol.Udp));
        Assert.Equal(456, store.Capacity(NatProtocol.Tcp));
        Assert.Equal(55, store.Capacity(NatProtocol.Icmp));
    }

    /// <summary>
    /// Threads translating both directions while others add and remove, then the table's structure is checked.
    /// Bounded: a fixed number of operations per thread.
    /// </summary>
    [Fact]
    public void Concurrent_translation_adds_and_removals_keep_the_table_consistent()
    {
        var (nat, store) = Create(udpCapacity: 2_000);
        var stable = Enumerable.Range(0, 200).Select(i => Udp(2 + i, 6000)).ToList();
        var stableReplies = stable.Select(p => Reply(nat.AddNat(p, Public))).ToList();
        int wrong = 0;
        var workers = new List<Thread>();
        for (int t = 0; t < 2; t++)
        {
            workers.Add(new Thread(() =>
            {
                var buffer = new byte[64];
                for (int round = 0; round < 200_000; round++)
                {
                    var source = round % 2 == 0 ? stable[round % stable.Count] : stableReplies[round % stable.Count];
                    source.CopyTo(buffer, 0);
                    var span = buffer.AsSpan(0, source.Length);
                    var result = nat.Translate(span);
                    // Stable connections are referenced constantly, so CLOCK must keep them; a torn read would show here.
                    if (!result.IsTranslated) Interlocked.Increment(ref wrong);
                    else if (round % 2 == 1 && Ipv4Packet.TryParse(span, out var ip) == PacketError.None && ip.Destination.Value != 0x0A4D0000u + 2 + (uint)(round % stable.Count)) Interlocked.Increment(ref wrong);
                }
            }));
        }
        for (int t = 0; t < 2; t++)
        {
            int seed = t;
            workers.Add(new Thread(() =>
            {
                var random = new Random(seed);
                for (int round = 0; round < 20_000; round++)
                {
                    int host = 1000 + random.Next(500);
                    if (random.Next(4) == 0) nat.RemoveConnections(new Ipv4Address(0x0A4D0000u + (uint)host));
                    else nat.AddNat(Udp(host, (ushort)random.Next(1024, 65535)), Public);
                }
            }));
        }
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Equal(0, wrong);
        store.CheckInvariants();
        Assert.True(store.Count(NatProtocol.Udp) <= 2_000);
    }
}
