package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.io.DetachedSocketFactory;

import java.io.IOException;
import java.net.Proxy;
import java.net.Socket;
import java.nio.channels.SocketChannel;

/**
 * Gives HttpClient's connection operator sockets that are backed by a {@link SocketChannel}, so
 * idle connections can be watched by readiness; the channel stays in non-blocking mode once
 * connected ({@link ChannelSocket}). Through a SOCKS proxy a channel cannot be used; those
 * connections get a plain socket and go unwatched.
 */
public final class ChannelSocketFactory implements DetachedSocketFactory {

    public static final ChannelSocketFactory INSTANCE = new ChannelSocketFactory();

    private ChannelSocketFactory() {
    }

    @Override
    public Socket create(Proxy proxy) throws IOException {
        if (proxy != null && proxy.type() != Proxy.Type.DIRECT) {
            return new Socket(proxy);
        }
        return new ChannelSocket(SocketChannel.open());
    }
}
