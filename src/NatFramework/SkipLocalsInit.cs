// Locals are not zeroed on entry to this module's methods. C# already requires every local to be written before it is
// read; the zeroing only cost time, and on the packet path it was most of some methods' cost: the creation path, with
// its connection, plan and result structs inlined, zeroed 1.3 KB of stack per new flow. Every stackalloc here is
// written before it is read (or cleared explicitly where a buffer is read past what was written).
[module: System.Runtime.CompilerServices.SkipLocalsInit]
