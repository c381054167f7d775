namespace NatRouter.Tests;

/// <summary>
/// Tests that bound how long something takes through a running router (a conversation served from the near cache
/// while Redis fails over or goes away). They run alone, after this assembly's other tests, whose traffic on the two
/// cores stretched a 1 s bound in one CI run; the bounds stay what they say.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitiveCollection
{
    public const string Name = "timing-sensitive";
}
