package io.github.portkeeper.test;

import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.ServerSocketChannel;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import java.util.function.ToIntFunction;

/**
 * Listening ports no earlier socket of this host still points at, for test servers whose tests
 * count sockets toward them with {@link Kernel}.
 *
 * <p>A server bound to port 0 gets whatever port the kernel hands out, and the kernel hands out a
 * port an earlier test's client still holds a TIME_WAIT toward (60 s), or one an earlier server
 * left TIME_WAIT on: the port is free to listen on, yet {@link Kernel#clientTimeWait} toward the
 * new server counts the old sockets. Each method here binds to port 0, reads the kernel's table
 * and, if any socket but the new listener has that port as its local port or as its remote port
 * (toward the loopback addresses and the listener's own), closes the listener and binds again:
 * at most {@value #ATTEMPTS} times, then fails naming the ports it refused.
 *
 * <pre>{@code
 * ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
 * HttpServer http = FreshPort.bind(() -> HttpServer.create(new InetSocketAddress(loopback, 0), 50),
 *         s -> s.getAddress().getPort(), s -> s.stop(0));
 * }</pre>
 *
 * <p>Where the kernel cannot be asked ({@link Kernel#isAvailable()} is false) the first binding
 * is taken as it is: nothing there can count the old sockets either.
 *
 * <p>Thread-safety: stateless; safe from any thread. Two threads may be handed ports at once,
 * each a different one, since each holds its listener while it checks.
 */
public final class FreshPort {

    /** How many bindings are tried before giving up. */
    public static final int ATTEMPTS = 50;

    private FreshPort() {
    }

    /** Binds something that listens, e.g. {@code () -> new ServerSocket(0, 50, loopback)}. */
    @FunctionalInterface
    public interface Binder<T> {
        /**
         * Binds a new listener.
         *
         * @return the bound listener
         * @throws IOException if it cannot be bound
         */
        T bind() throws IOException;
    }

    /** Closes a listener {@link #bind} refused. */
    @FunctionalInterface
    public interface Closer<T> {
        /**
         * Closes the listener.
         *
         * @param listener the refused listener
         * @throws IOException if closing fails; ignored, the next binding is tried anyway
         */
        void close(T listener) throws IOException;
    }

    /**
     * A {@link ServerSocket} bound to a fresh port of {@code address}.
     *
     * @param address the address to listen on, e.g. {@link InetAddress#getLoopbackAddress()}
     * @param backlog the accept queue's length
     * @return the bound listener
     * @throws IOException if binding fails
     * @throws IllegalStateException if {@value #ATTEMPTS} bindings all got a port in use
     */
    public static ServerSocket listen(InetAddress address, int backlog) throws IOException {
        Objects.requireNonNull(address, "address");
        return bind(() -> new ServerSocket(0, backlog, address), ServerSocket::getLocalPort, ServerSocket::close, address);
    }

    /**
     * A {@link ServerSocketChannel} bound to a fresh port of {@code address}.
     *
     * @param address the address to listen on
     * @return the bound channel, blocking
     * @throws IOException if binding fails
     * @throws IllegalStateException if {@value #ATTEMPTS} bindings all got a port in use
     */
    public static ServerSocketChannel listenChannel(InetAddress address) throws IOException {
        Objects.requireNonNull(address, "address");
        return bind(() -> openChannel(address), ch -> ch.socket().getLocalPort(), ServerSocketChannel::close, address);
    }

    /**
     * Binds with {@code binder} until the listener's port is fresh on the loopback addresses.
     *
     * @param binder binds a listener, to port 0 (or any port: the port is checked, not chosen)
     * @param portOf the listener's port
     * @param closer closes a refused listener
     * @param <T> the listener's type
     * @return the first listener whose port no other socket has
     * @throws IOException if {@code binder} fails
     * @throws IllegalStateException if {@value #ATTEMPTS} bindings all got a port in use
     */
    public static <T> T bind(Binder<T> binder, ToIntFunction<? super T> portOf, Closer<? super T> closer)
            throws IOException {
        return bind(binder, portOf, closer, InetAddress.getLoopbackAddress());
    }

    /**
     * Chooses a port for a server that must be told its port before it starts (a process such as
     * {@code redis-server}): a port of {@code address} no socket has now. The port is free only
     * until something else binds it, so start the server at once and, if it cannot bind, ask again.
     *
     * @param address the address the server will listen on
     * @return the port
     * @throws IOException if a probe listener cannot be bound
     * @throws IllegalStateException if {@value #ATTEMPTS} bindings all got a port in use
     */
    public static int choose(InetAddress address) throws IOException {
        // A listener that never accepted a connection leaves nothing on its port when closed.
        try (ServerSocket probe = listen(address, 1)) {
            return probe.getLocalPort();
        }
    }

    /**
     * Tells whether a socket other than one listener has {@code port} as its local port, or as its
     * remote port toward {@code address} or a loopback address.
     *
     * @param table the kernel's table
     * @param address the listener's address; a wildcard stands for the loopback addresses alone
     * @param port the port
     * @return true if an earlier socket still has the port
     */
    static boolean inUse(SocketTable table, InetAddress address, int port) {
        int onPort = 0;
        for (TcpState state : TcpState.values()) {
            onPort += table.countOnLocalPort(state, port);
        }
        if (onPort > 1) { // the listener itself is one
            return true;
        }
        for (InetAddress remote : remotes(address)) {
            InetSocketAddress to = new InetSocketAddress(remote, port);
            for (TcpState state : TcpState.values()) {
                if (table.countToRemote(state, to) > 0) {
                    return true;
                }
            }
        }
        return false;
    }

    static <T> T bind(Binder<T> binder, ToIntFunction<? super T> portOf, Closer<? super T> closer, InetAddress address)
            throws IOException {
        Objects.requireNonNull(binder, "binder");
        Objects.requireNonNull(portOf, "portOf");
        Objects.requireNonNull(closer, "closer");
        Set<Integer> refused = new LinkedHashSet<>();
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            T listener = binder.bind();
            int port;
            try {
                port = portOf.applyAsInt(listener);
                if (!Kernel.isAvailable() || !inUse(Kernel.snapshot(), address, port)) {
                    return listener;
                }
            } catch (RuntimeException e) {
                closeQuietly(closer, listener);
                throw e;
            }
            refused.add(port);
            closeQuietly(closer, listener);
        }
        throw new IllegalStateException(ATTEMPTS + " bindings on " + address
                + " all got a port an earlier socket still has (as its local port, or as its remote port), so a count "
                + "toward the new server would include old sockets; ports refused: " + refused);
    }

    private static Set<InetAddress> remotes(InetAddress address) {
        Set<InetAddress> remotes = new LinkedHashSet<>();
        if (!address.isAnyLocalAddress()) {
            remotes.add(address);
        }
        remotes.add(InetAddress.getLoopbackAddress());
        try {
            remotes.add(InetAddress.getByName("127.0.0.1"));
            remotes.add(InetAddress.getByName("::1"));
        } catch (IOException e) {
            throw new IllegalStateException("literal addresses always parse", e);
        }
        return remotes;
    }

    private static ServerSocketChannel openChannel(InetAddress address) throws IOException {
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            return ch.bind(new InetSocketAddress(address, 0));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static <T> void closeQuietly(Closer<? super T> closer, T listener) {
        try {
            closer.close(listener);
        } catch (IOException e) {
            // the next binding is tried anyway
        }
    }
}
