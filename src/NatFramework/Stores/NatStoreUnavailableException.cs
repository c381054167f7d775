namespace NatFramework;

/// <summary>
/// Thrown by a store when its backend cannot be reached or answer in time (a down Redis, a locked file).
/// Generated translators catch it and return a <c>StoreUnavailable</c> result, so it never reaches a
/// packet loop. Any other exception from a store is a bug and propagates.
/// </summary>
public sealed class NatStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The failure that caused it.</param>
    public NatStoreUnavailableException(string message, Exception? innerException = null) : base(message, innerException) { }

    /// <summary>Creates the exception with a generic message.</summary>
    public NatStoreUnavailableException() : base("The NAT store is unavailable.") { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public NatStoreUnavailableException(string message) : base(message) { }
}
