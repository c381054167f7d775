// One test class at a time: the durability window's backpressure answers StoreUnavailable when the writer falls more
// than 250 ms behind, which is right under overload. With this assembly's classes writing files in parallel beside
// the durability tests' flat-out writer process, tests that only needed a table written met it now and then.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
