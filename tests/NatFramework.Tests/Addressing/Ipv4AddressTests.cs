using System.Net;

namespace NatFramework.Tests.Addressing;

public sealed class Ipv4AddressTests
{
    [Theory]
    [InlineData("0.0.0.0", 0x00000000u)]
    [InlineData("10.0.0.1", 0x0A000001u)]
    [InlineData("192.168.108.26", 0xC0A86C1Au)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    public void Dotted_quad_parses_and_formats_back(string text, uint value)
    {
        var address = Ipv4Address.Parse(text);

        Assert.Equal(value, address.Value);
        Assert.Equal(text, address.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.1.1.1")]
    [InlineData("01.2.3.4")]
    [InlineData("1.2.3.4 ")]
    [InlineData("a.b.c.d")]
    [InlineData("1..3.4")]
    public void Malformed_text_is_refused(string text)
    {
        Assert.False(Ipv4Address.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Ipv4Address.Parse(text));
    }

    [Fact]
    public void Converts_to_and_from_IPAddress_including_ipv4_mapped_ipv6()
    {
        var address = Ipv4Address.Parse("198.51.100.7");

        Assert.Equal(IPAddress.Parse("198.51.100.7"), address.ToIPAddress());
        Assert.Equal(address, Ipv4Address.FromIPAddress(IPAddress.Parse("::ffff:198.51.100.7")));
        Assert.Throws<ArgumentException>(() => Ipv4Address.FromIPAddress(IPAddress.IPv6Loopback));
    }

    [Theory]
    [InlineData("0.1.2.3", AddressScope.Unspecified, false)]
    [InlineData("127.0.0.1", AddressScope.Loopback, false)]
    [InlineData("169.254.10.1", AddressScope.LinkLocal, false)]
    [InlineData("224.0.0.251", AddressScope.Multicast, false)]
    [InlineData("239.255.255.250", AddressScope.Multicast, false)]
    [InlineData("255.255.255.255", AddressScope.LimitedBroadcast, false)]
    [InlineData("240.0.0.1", AddressScope.Reserved, false)]
    [InlineData("10.77.0.2", AddressScope.Private, true)]
    [InlineData("172.16.2.30", AddressScope.Private, true)]
    [InlineData("172.32.0.1", AddressScope.Global, true)]
    [InlineData("192.168.1.5", AddressScope.Private, true)]
    [InlineData("100.64.0.1", AddressScope.Shared, true)]
    [InlineData("198.51.100.1", AddressScope.Documentation, true)]
    [InlineData("192.0.2.1", AddressScope.Documentation, true)]
    [InlineData("203.0.113.9", AddressScope.Documentation, true)]
    [InlineData("198.18.0.1", AddressScope.Benchmarking, true)]
    [InlineData("8.8.8.8", AddressScope.Global, true)]
    public void Scope_follows_rfc_6890(string text, AddressScope scope, bool routable)
    {
        var address = Ipv4Address.Parse(text);

        Assert.Equal(scope, address.Scope);
        Assert.Equal(routable, address.IsUnicastRoutable);
    }

    [Fact]
    public void Prefix_parses_contains_and_refuses_host_bits()
    {
        var prefix = Ipv4Prefix.Parse("10.77.0.0/24");

        Assert.True(prefix.Contains(Ipv4Address.Parse("10.77.0.200")));
        Assert.False(prefix.Contains(Ipv4Address.Parse("10.77.1.1")));
        Assert.Equal("10.77.0.0/24", prefix.ToString());
        Assert.True(Ipv4Prefix.Parse("0.0.0.0/0").Contains(Ipv4Address.Broadcast));
        Assert.Equal(32, Ipv4Prefix.Parse("192.0.2.1").Length);
        var error = Assert.Throws<FormatException>(() => Ipv4Prefix.Parse("10.77.0.1/24"));
        Assert.Contains("host bits", error.Message);
        Assert.False(Ipv4Prefix.TryParse("10.0.0.0/33", out _));
    }
}
