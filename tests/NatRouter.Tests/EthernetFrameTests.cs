namespace NatRouter.Tests;

/// <summary>Ethernet headers and ARP packets as the AF_XDP port writes and reads them (RFC 826).</summary>
public sealed class EthernetFrameTests
{
    [Fact]
    public void An_arp_request_is_written_as_rfc_826_lays_it_out_and_reads_back()
    {
        var frame = new byte[EthernetFrame.HeaderLength + EthernetFrame.ArpLength];
        var request = new EthernetFrame.Arp(EthernetFrame.ArpRequest, 0x02_11_22_33_44_55, 0xC6336401, 0, 0xC6336402);

        EthernetFrame.WriteArp(frame, EthernetFrame.Broadcast, 0x02_11_22_33_44_55, request);

        Assert.Equal(Convert.FromHexString(
            "FFFFFFFFFFFF" + "021122334455" + "0806" +              // Ethernet: broadcast, from us, ARP
            "0001" + "0800" + "06" + "04" + "0001" +               // Ethernet hardware, IPv4, 6- and 4-byte addresses, request
            "021122334455" + "C6336401" + "000000000000" + "C6336402"), frame);
        Assert.True(EthernetFrame.TryReadArp(frame.AsSpan(EthernetFrame.HeaderLength), out var read));
        Assert.Equal(request, read);
        Assert.Equal("02:11:22:33:44:55", EthernetFrame.Format(read.SenderMac));
    }

    [Theory]
    [InlineData("0006080006040001", "not Ethernet hardware (IEEE 802)")]
    [InlineData("000186DD06040001", "not IPv4")]
    [InlineData("0001080006100001", "not 4-byte protocol addresses")]
    [InlineData("00010800", "cut short")]
    public void Arp_for_anything_but_ipv4_over_ethernet_is_not_read(string header, string why)
    {
        var payload = Convert.FromHexString(header.PadRight(EthernetFrame.ArpLength * 2, '0'));
        if (header.Length < 16) payload = Convert.FromHexString(header);

        Assert.False(EthernetFrame.TryReadArp(payload, out _), why);
    }

    [Fact]
    public void Group_addresses_have_the_lowest_bit_of_their_first_octet_set()
    {
        Assert.True(EthernetFrame.IsGroup(EthernetFrame.Broadcast));
        Assert.True(EthernetFrame.IsGroup(0x01_00_5E_00_00_01)); // IPv4 multicast
        Assert.False(EthernetFrame.IsGroup(0x02_11_22_33_44_55));
    }
}
