package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.impl.io.DefaultManagedHttpClientConnection;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.impl.io.SocketHolder;

import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * HttpClient's own connection, which additionally tells the pool the {@link SocketChannel} under
 * it. The base socket is the plain one even when TLS is layered on top, so the idle watcher and
 * the close path work on TLS connections too.
 */
final class PortkeeperManagedConnection extends DefaultManagedHttpClientConnection {

    private static final AtomicLong IDS = new AtomicLong();

    PortkeeperManagedConnection(Http1Config http1Config) {
        super("portkeeper-" + IDS.incrementAndGet(), null, null, http1Config, null, null, null, null);
    }

    /** The channel of the base (plain) socket, or null if not bound or not channel-backed. */
    SocketChannel channel() {
        SocketHolder holder = getSocketHolder();
        if (holder == null) {
            return null;
        }
        Socket base = holder.getBaseSocket();
        return base != null ? base.getChannel() : null;
    }

    boolean isBound() {
        return getSocketHolder() != null;
    }
}
