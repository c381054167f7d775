using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NatRouter;

/// <summary>
/// Runs set-up work inside a named network namespace (under /var/run/netns). A namespace is a property of an OS thread,
/// so the work runs on a thread of its own that enters the namespace and then ends: no pooled thread is left in the
/// wrong one. What the work opens there (a TUN queue, an AF_XDP socket, a BPF link) stays in that namespace and works
/// from any thread afterwards.
/// </summary>
internal static partial class NetworkNamespace
{
    private const int CloseOnExec = 0x80000;            // O_CLOEXEC
    private const int NewNetworkNamespace = 0x40000000; // CLONE_NEWNET

    /// <summary>
    /// Runs <paramref name="work"/> inside <paramref name="netns"/>, or on the calling thread when it is null. Exceptions
    /// of the types the work is expected to throw (<see cref="Win32Exception"/>, <see cref="ArgumentException"/>,
    /// <see cref="InvalidOperationException"/>) reach the caller.
    /// </summary>
    /// <exception cref="Win32Exception">The namespace does not exist or could not be entered.</exception>
    public static T Run<T>(string? netns, Func<T> work)
    {
        if (netns is null) return work();
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                int nsFd = OpenFile("/var/run/netns/" + netns, CloseOnExec);
                if (nsFd < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), $"network namespace '{netns}' not found under /var/run/netns");
                int entered = SetNamespace(nsFd, NewNetworkNamespace);
                int error = Marshal.GetLastPInvokeError();
                Close(nsFd);
                if (entered < 0) throw new Win32Exception(error, $"setns into '{netns}' failed");
                result = work();
            }
            catch (Exception e) when (e is Win32Exception or ArgumentException or InvalidOperationException)
            {
                failure = e;
            }
        }) { Name = "netns: " + netns };
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
        return result!;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNamespace(int fd, int type);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
