namespace NatFramework;

/// <summary>What an insert must respect, besides the keys being free: which connections count as expired, and how many
/// live connections the inside host may have.</summary>
/// <param name="Expiry">The cutoffs: keys held only by connections expired under them are free, and such connections do not count.</param>
/// <param name="HostLimit">
/// For a source-NAT connection, the most live source-NAT connections of its protocol its inside host may have, the new
/// one included; 0 for no limit (always 0 for a redirect). At the limit the store answers
/// <see cref="NatInsertStatus.HostLimitReached"/> (RFC 6888 REQ-3/4: one host cannot take every port of the public
/// address). Redirects (port forwards) take no port of the public address, so a store counts only source-NAT
/// connections, per inside host and protocol. Stores shared by several translators count every translator's
/// connections, atomically with the insert.
/// </param>
public readonly record struct NatInsertRules(ExpiryCutoffs Expiry, int HostLimit = 0);
