namespace NatFramework;

/// <summary>
/// Uniform integers from the operating system's cryptographic random source, fetched in blocks per thread so a draw
/// costs a few loads rather than a system call.
/// </summary>
internal static class SecureRandomBits
{
    private const int BlockBytes = 256;

    [ThreadStatic] private static byte[]? t_block;
    [ThreadStatic] private static int t_next;

    /// <summary>A uniform integer in <c>[0, bound)</c>, without modulo bias (Lemire's multiply-and-reject).</summary>
    public static int UniformBelow(int bound)
    {
        uint range = (uint)bound;
        ulong product = (ulong)Next32() * range;
        uint low = (uint)product;
        if (low < range)
        {
            uint threshold = (0u - range) % range;
            while (low < threshold)
            {
                product = (ulong)Next32() * range;
                low = (uint)product;
            }
        }
        return (int)(product >> 32);
    }

    private static uint Next32()
    {
        var block = t_block;
        if (block is null || t_next > BlockBytes - sizeof(uint))
        {
            block = t_block ??= new byte[BlockBytes];
            System.Security.Cryptography.RandomNumberGenerator.Fill(block);
            t_next = 0;
        }
        uint value = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(t_next));
        t_next += sizeof(uint);
        return value;
    }
}
