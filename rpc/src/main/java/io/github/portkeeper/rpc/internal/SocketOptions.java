package io.github.portkeeper.rpc.internal;

/**
 * Socket settings for new connections.
 *
 * @param connectTimeoutMillis connect timeout, positive
 * @param readTimeoutMillis    SO_TIMEOUT between calls (0: none)
 * @param tcpNoDelay           TCP_NODELAY
 * @param keepAlive            SO_KEEPALIVE
 */
public record SocketOptions(int connectTimeoutMillis, int readTimeoutMillis, boolean tcpNoDelay, boolean keepAlive) {
}
