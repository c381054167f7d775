using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace NatFramework.Stores.Redis;

// Starting up: the connection, its first round trip and the scripts loaded, the shard count checked, and refused credentials or TLS told apart from a Redis that is merely down.
public sealed partial class RedisNatStore
{
    /// <summary>
    /// At construction: one round trip and the scripts loaded into Redis's script cache, so the first packets do not pay
    /// for connection set-up, code warm-up and script compilation inside their operation timeout. A Redis that is down
    /// now is not an error here (operations report it); one that refuses the credentials is, because retrying cannot help.
    /// </summary>
    private void WarmUp()
    {
        // The first connection attempt may still be under way when Connect returns: wait (at most two seconds) for it to
        // end one way or the other, so a refusal of the credentials is seen here rather than as endless unavailability.
        string? refusal = null, handshake = null;
        bool otherFailure = false;
        void OnFailed(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.FailureType != ConnectionFailureType.AuthenticationFailure) otherFailure = true;
            else if (TlsFailure(e.Exception) is { } tls) handshake ??= tls;
            else refusal ??= AuthenticationFailure(e.Exception ?? new RedisException(e.FailureType.ToString()));
        }
        _redis.ConnectionFailed += OnFailed;
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (true)
            {
                try
                {
                    Database.Ping();
                    LoadScripts();
                    CheckShardCount();
                    return;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    handshake ??= TlsFailure(e);
                    if (handshake is not null)
                        throw new AuthenticationException($"Redis ({ServerName}): the TLS handshake failed: {handshake} Check ssl= and sslHost= in the connection " +
                            "string, and that this machine trusts the certificate authority of the server's certificate (or pass a connection made with " +
                            "ConfigurationOptions.TrustIssuer).", e);
                    refusal ??= AuthenticationFailure(e);
                    if (refusal is not null)
                        throw new UnauthorizedAccessException($"Redis ({ServerName}) refused the NAT store's credentials: {refusal}. Check user= and password= " +
                            "in the connection string (and the ACL of that user).", e);
                    if (otherFailure || DateTime.UtcNow > deadline)
                    {
                        RedisStoreLog.WarmUpSkipped(_logger, _options.KeyPrefix, RedisStoreLog.ReasonOf(e));
                        return;
                    }
                }
                Thread.Sleep(50);
            }
        }
        finally
        {
            _redis.ConnectionFailed -= OnFailed;
        }
    }

    private void LoadScripts()
    {
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica) continue;
            foreach (var script in new[] { LuaScripts.Insert, LuaScripts.Touch, LuaScripts.UpdateState, LuaScripts.Remove, LuaScripts.RemoveHost, LuaScripts.Count, LuaScripts.FindMapping })
                server.ScriptLoad(script);
        }
    }

    /// <summary>
    /// Records the table's shard count in Redis, or checks it against the one recorded: routers that disagree on it would
    /// look for connections where the others did not put them.
    /// </summary>
    /// <exception cref="ArgumentException">The table in Redis is spread over another number of shards.</exception>
    private void CheckShardCount()
    {
        var database = Database;
        database.StringSet(_layoutKey, _shards.Count, when: When.NotExists);
        var recorded = database.StringGet(_layoutKey);
        if (recorded.TryParse(out int shards) && shards != _shards.Count)
            throw new ArgumentException($"Shards is {_shards.Count}, but the table '{_options.KeyPrefix}' in Redis ({ServerName}) is spread over {shards} shard(s); " +
                "every router on a table must use the same count (to change it, stop every router and delete the key " + (string?)_layoutKey + ").", nameof(RedisStoreOptions.Shards));
    }

    /// <summary>Why the TLS handshake failed (the server's certificate not trusted, say), or null when <paramref name="e"/> is about something else.</summary>
    private static string? TlsFailure(Exception? e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        {
            if (cause is AuthenticationException) return cause.Message;
            if (cause is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions)
                    if (TlsFailure(inner) is { } found) return found;
        }
        return null;
    }

    /// <summary>
    /// What Redis said when it refused the credentials or the rights the store needs (an ACL user without scripting,
    /// say: NOPERM), or null when <paramref name="e"/> is about something else. Retrying cannot help with either.
    /// </summary>
    private static string? AuthenticationFailure(Exception e)
    {
        for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        {
            if (cause is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure }
                || cause.Message.Contains("WRONGPASS", StringComparison.Ordinal) || cause.Message.Contains("NOAUTH", StringComparison.Ordinal)
                || cause.Message.Contains("NOPERM", StringComparison.Ordinal))
            {
                string message = e.Message;
                foreach (var marker in new[] { "WRONGPASS", "NOAUTH", "NOPERM" })
                {
                    int at = message.IndexOf(marker, StringComparison.Ordinal);
                    if (at >= 0) return message[at..].Split(new[] { ". ", ", mc:" }, 2, StringSplitOptions.None)[0];
                }
                return "authentication failed";
            }
        }
        return null;
    }

    private static IConnectionMultiplexer Connect(RedisStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var configuration = ConfigurationOptions.Parse(options.Configuration);
        int timeout = (int)options.OperationTimeout.TotalMilliseconds;
        configuration.AbortOnConnectFail = false;            // start even while Redis is down
        configuration.BacklogPolicy = BacklogPolicy.FailFast; // while disconnected, fail at once instead of queueing
        configuration.AsyncTimeout = timeout;
        configuration.SyncTimeout = timeout;
        configuration.ConnectTimeout = Math.Max(timeout, 1000);
        configuration.ConnectRetry = 1;
        configuration.ReconnectRetryPolicy = new LinearRetry(500);
        return ConnectionMultiplexer.Connect(configuration);
    }
}
