// Locals are not zeroed on entry to this module's methods (see the same setting in NatFramework): the table's insert
// and lookup paths are the hot path, and C# already requires every local to be written before it is read.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
