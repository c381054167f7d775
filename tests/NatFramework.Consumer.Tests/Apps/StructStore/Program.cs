// A store declared as a struct: the generator refuses it with NAT0009 at the attribute, before any generated code.
using NatFramework;

public struct StructStore : INatStore
{
    public bool TryLookup(in FlowKey key, in ExpiryCutoffs expiry, out NatLookup lookup) { lookup = default; return false; }
    public NatInsertStatus TryInsert(in NatConnection connection, in NatInsertRules rules, out NatLookup existing) { existing = default; return NatInsertStatus.Inserted; }
    public void Touch(in FlowKey key, long now) { }
    public NatConnectionFlags? UpdateState(in FlowKey key, NatConnectionFlags expected, NatConnectionFlags flags, long now) => null;
    public bool TryFindMapping(NatProtocol protocol, Ipv4Address publicAddress, ushort publicPort, Ipv4Address remoteAddress, in ExpiryCutoffs expiry, out NatMapping mapping) { mapping = default; return false; }
    public bool Remove(in FlowKey key, out NatConnection removed) { removed = default; return false; }
    public bool Contains(in FlowKey key, in ExpiryCutoffs expiry) => false;
    public void Clear() { }
    public IEnumerable<NatConnection> Connections => [];
}

[NatTranslator(typeof(StructStore))]
public sealed partial class StructNat;

public static class Program
{
    public static void Main() { }
}
