package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/**
 * Opens the blocking {@link SocketChannel}s under every RPC connection: a channel, not a plain
 * socket, so the pool's idle watcher can register idle connections with its selector; blocking,
 * so protocols read and write it through its socket's streams with SO_TIMEOUT. Opened with
 * SO_LINGER 0, so that any close not made by the pool's closer is an RST.
 */
final class Channels {

    private Channels() {
    }

    static SocketChannel open(Endpoint endpoint, SocketOptions options) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, options.tcpNoDelay());
            channel.setOption(StandardSocketOptions.SO_KEEPALIVE, options.keepAlive());
            // As core's SocketChannelConnector: a close before the pool holds the connection (a
            // client factory that fails after the handshake, an interrupt during the handshake
            // or a wrap's I/O) counts as a failed connect, so it must be an RST, never a FIN that
            // leaves a TIME_WAIT nothing counts. Graceful closes go through SocketCloser, which
            // turns lingering off first.
            channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            channel.socket().connect(new InetSocketAddress(endpoint.host(), endpoint.port()), options.connectTimeoutMillis());
            return channel;
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(channel);
            throw e;
        }
    }

    static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Never established; nothing else to release.
        }
    }
}
