package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.function.Predicate;

/**
 * Opens connections for a {@code SocketClientPool}: a channel, a guarded socket over it and the
 * user's client built around that socket. Thread-safe if the user's functions are.
 *
 * @param <T> the user's client type
 */
public final class SocketClientConnector<T> implements Connector<ClientConnection<T>> {

    /** Builds the user's client around a socket. */
    @FunctionalInterface
    public interface Wrap<T> {
        T wrap(java.net.Socket socket) throws IOException;
    }

    /** Sends the user's goodbye. */
    @FunctionalInterface
    public interface Goodbye<T> {
        void sayGoodbye(T client) throws IOException;
    }

    private final Wrap<T> wrap;
    private final Goodbye<T> goodbye;
    private final Predicate<T> isUsable;
    private final SocketOptions options;
    private final int goodbyeTimeoutMillis;

    public SocketClientConnector(Wrap<T> wrap, Goodbye<T> goodbye, Predicate<T> isUsable, SocketOptions options,
                                 int goodbyeTimeoutMillis) {
        this.wrap = wrap;
        this.goodbye = goodbye;
        this.isUsable = isUsable;
        this.options = options;
        this.goodbyeTimeoutMillis = goodbyeTimeoutMillis;
    }

    @Override
    public ClientConnection<T> connect(Endpoint endpoint) throws IOException {
        SocketChannel channel = Channels.open(endpoint, options);
        try {
            // Without a read timeout, a factory that reads a greeting from a server that accepts
            // and never writes would wait for good, holding the pool's slot: each read of its
            // handshake waits at most the connect timeout instead (per read, not in total).
            int readTimeout = options.readTimeoutMillis();
            int setupTimeout = readTimeout == 0 ? options.connectTimeoutMillis() : readTimeout;
            channel.socket().setSoTimeout(setupTimeout);
            ClientConnection<T> c = new ClientConnection<>(channel);
            c.client = wrap.wrap(c.socket);
            if (c.client == null) {
                throw new IOException("the client factory returned null for " + endpoint);
            }
            // What the factory left is the timeout of every borrow: legacy clients often set
            // their own in the constructor, and restoring the pool's over it would leave every
            // later borrow without the timeout the client relies on. The handshake's bound is
            // not the factory's: it goes back to none.
            int left = channel.socket().getSoTimeout();
            if (readTimeout == 0 && left == setupTimeout) {
                channel.socket().setSoTimeout(0);
                left = 0;
            }
            c.borrowTimeoutMillis = left;
            return c;
        } catch (IOException | RuntimeException | Error e) {
            // Counted a failed connect: SO_LINGER 0 (set by Channels.open) makes this close an
            // RST, so no TIME_WAIT is left behind once the server closes. An Error from the
            // user's factory (an AssertionError, a class that failed to initialize) closes it
            // too: nothing else holds the channel, so it would stay open for good.
            Channels.closeQuietly(channel);
            throw e;
        }
    }

    @Override
    public SocketChannel channel(ClientConnection<T> connection) {
        return connection.channel;
    }

    @Override
    public boolean validate(ClientConnection<T> connection) {
        return !connection.isDamaged() && (isUsable == null || isUsable.test(connection.client));
    }

    /**
     * Runs the user's goodbye on the idle connection. Its reads, if it waits for a reply, are
     * bounded by a short SO_TIMEOUT: this runs on the pool's thread.
     */
    @Override
    public boolean requestPeerClose(ClientConnection<T> connection) throws IOException {
        if (goodbye == null || connection.isDamaged()) {
            return false;
        }
        connection.channel.socket().setSoTimeout(goodbyeTimeoutMillis);
        goodbye.sayGoodbye(connection.client);
        return true;
    }
}
