package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.io.DetachedSocketFactory;

import java.io.IOException;
import java.net.Proxy;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/**
 * Gives HttpClient's connection operator sockets that are backed by a {@link SocketChannel}, so
 * idle connections can be watched by readiness; the channel stays in non-blocking mode once
 * connected ({@link ChannelSocket}). Through a SOCKS proxy a channel cannot be used; those
 * connections get a plain socket and go unwatched ({@link ProxiedSocket}), held with SO_LINGER 0
 * until connected as well: the JDK closes it itself when the proxy refuses the request.
 *
 * <p>The channel is held with SO_LINGER 0 before it connects, as core's {@code Connector} asks of
 * a connector that does I/O after the TCP handshake: HttpClient closes the socket itself when a
 * TLS handshake or an exchange fails (and the JDK closes a channel whose blocking connect is
 * interrupted), before or behind the pool, and those closes must be RSTs, as the endings the
 * pool records for them (FAILED, RESET) say, not FINs that leave a TIME_WAIT nobody counts. The
 * pool's own graceful closes turn lingering off first. A linger that HttpClient sets from its
 * {@code SocketConfig} is held back until the connection is connected, TLS included
 * ({@link ChannelSocket#applyRequestedLinger}): a failed connect or handshake, recorded FAILED,
 * is an RST whatever the user's linger, and the user's linger governs HttpClient's closes from
 * the first exchange on (the pool records those by it: LOCAL if it is not 0).
 */
public final class ChannelSocketFactory implements DetachedSocketFactory {

    public static final ChannelSocketFactory INSTANCE = new ChannelSocketFactory();

    private ChannelSocketFactory() {
    }

    @Override
    public Socket create(Proxy proxy) throws IOException {
        if (proxy != null && proxy.type() != Proxy.Type.DIRECT) {
            return new ProxiedSocket(proxy);
        }
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.SO_LINGER, 0);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        return new ChannelSocket(channel, true);
    }
}
