package io.github.portkeeper.test;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;

/**
 * The kernel as the judge of a test: counts from {@code /proc/net/tcp} and {@code /proc/net/tcp6}
 * of this host's sockets toward a server (the client's side) and on a server's port (the server's
 * side). With client and server on one host, "toward the server's address" and "on the server's
 * port" tell the two sides apart.
 *
 * <pre>{@code
 * Kernel.assumeLinux();                       // skips the test elsewhere, saying why
 * int before = Kernel.clientTimeWait(server); // TIME_WAIT this host holds toward server
 * }</pre>
 *
 * <p>Works for any client, not only Portkeeper's: it reads the kernel, not the pool.
 *
 * <p>A server is the address and port clients connect to. A wildcard address ({@code 0.0.0.0},
 * {@code ::}), what a server bound to all interfaces reports as its own, is refused with an
 * {@link IllegalArgumentException}: no client socket has it as its remote address, so every
 * count toward it would be zero and every check would pass.
 *
 * <p>Thread-safety: stateless; every call reads the kernel's tables anew.
 */
public final class Kernel {

    /** Why kernel-judged checks are skipped where the tables do not exist. */
    public static final String UNAVAILABLE_REASON = "needs /proc/net/tcp (Linux) to count TIME_WAIT and CLOSE_WAIT "
            + "sockets, and this host has none (" + System.getProperty("os.name") + "): the kernel is the judge";

    private static final KernelProbe PROBE = KernelProbe.linux();

    private Kernel() {
    }

    /**
     * Tells whether this host's kernel can be asked.
     *
     * @return true on Linux with {@code /proc} mounted
     */
    public static boolean isAvailable() {
        return PROBE.isAvailable();
    }

    /** The probe every reading of this class goes through. */
    static KernelProbe probe() {
        return PROBE;
    }

    /** Skips the calling test, with {@link #UNAVAILABLE_REASON}, where the kernel cannot be asked. */
    public static void assumeLinux() {
        Assumptions.assumeTrue(PROBE.isAvailable(), UNAVAILABLE_REASON);
    }

    /**
     * Reads the kernel's socket tables now.
     *
     * @return the sockets, to ask several questions of one instant
     * @throws IllegalStateException where the kernel cannot be asked
     */
    public static SocketTable snapshot() {
        return PROBE.snapshot();
    }

    /**
     * Counts client-side sockets in {@code state} whose remote end is {@code server}.
     *
     * @param server the server's resolved address and port
     * @param state the state to count
     * @return the count
     */
    public static int toward(InetSocketAddress server, TcpState state) {
        requireConnectable(server);
        return snapshot().countToRemote(state, server);
    }

    /**
     * Counts the TIME_WAIT sockets this host holds as a client of {@code server}: the cost of
     * closing first, 60 s each.
     *
     * @param server the server's resolved address and port
     * @return the count
     */
    public static int clientTimeWait(InetSocketAddress server) {
        return toward(server, TcpState.TIME_WAIT);
    }

    /**
     * Counts the client sockets toward {@code server} that closed first: in TIME_WAIT, or on
     * their way to it (FIN_WAIT1, FIN_WAIT2, CLOSING) because the peer's FIN has not arrived yet.
     * Right after a client closes, this counts what TIME_WAIT alone would only count a moment later.
     *
     * @param server the server's resolved address and port
     * @return the count
     */
    public static int clientClosedFirst(InetSocketAddress server) {
        requireConnectable(server);
        SocketTable t = snapshot();
        return t.countToRemote(TcpState.TIME_WAIT, server) + t.countToRemote(TcpState.FIN_WAIT1, server)
                + t.countToRemote(TcpState.FIN_WAIT2, server) + t.countToRemote(TcpState.CLOSING, server);
    }

    /**
     * Counts the CLOSE_WAIT sockets toward {@code server}: the server closed and the client has
     * not (always a client bug if it lasts).
     *
     * @param server the server's resolved address and port
     * @return the count
     */
    public static int clientCloseWait(InetSocketAddress server) {
        return toward(server, TcpState.CLOSE_WAIT);
    }

    /**
     * Returns the local ports of the client sockets in {@code state} toward {@code server}: one
     * per socket, so a test sampling the kernel can follow each socket, e.g. to measure how long
     * the oldest CLOSE_WAIT lasted.
     *
     * @param server the server's resolved address and port
     * @param state the state to look for
     * @return the client sockets' local ports, ascending, unmodifiable
     */
    public static Set<Integer> clientPorts(InetSocketAddress server, TcpState state) {
        requireConnectable(server);
        return snapshot().localPortsToRemote(state, server);
    }

    /**
     * Counts the open client connections toward {@code server}.
     *
     * @param server the server's resolved address and port
     * @return the count of ESTABLISHED sockets
     */
    public static int clientEstablished(InetSocketAddress server) {
        return toward(server, TcpState.ESTABLISHED);
    }

    /**
     * Counts the TIME_WAIT sockets on a server's side of its port: the server closed first.
     *
     * @param port the server's local port
     * @return the count
     */
    public static int serverTimeWait(int port) {
        return snapshot().countOnLocalPort(TcpState.TIME_WAIT, port);
    }

    /**
     * Counts the CLOSE_WAIT sockets on a server's side of its port: clients closed and the server
     * has not.
     *
     * @param port the server's local port
     * @return the count
     */
    public static int serverCloseWait(int port) {
        return snapshot().countOnLocalPort(TcpState.CLOSE_WAIT, port);
    }

    /**
     * Returns {@code server} if a client can connect to it: not {@code null}, resolved, and not a
     * wildcard address.
     *
     * @throws NullPointerException {@code "server"}
     * @throws IllegalArgumentException {@code "server must be resolved, but was
     *         localhost/<unresolved>:8080"}, or {@code "server must be an address clients connect
     *         to, but was the wildcard 0.0.0.0/0.0.0.0:8080 (...)"}
     */
    static InetSocketAddress requireConnectable(InetSocketAddress server) {
        Objects.requireNonNull(server, "server");
        if (server.isUnresolved()) {
            throw new IllegalArgumentException("server must be resolved, but was " + server);
        }
        if (server.getAddress().isAnyLocalAddress()) {
            throw new IllegalArgumentException("server must be an address clients connect to, but was the wildcard " + server
                    + " (no client socket has a wildcard remote address, so every count toward it would be zero and every "
                    + "check would pass): give the address clients connect to, e.g. "
                    + "new InetSocketAddress(InetAddress.getLoopbackAddress(), " + server.getPort() + ")");
        }
        return server;
    }

    /**
     * Describes, in one line for assertion messages, the sockets toward {@code server} and on its
     * port by state.
     *
     * @param server the server's resolved address and port
     * @return e.g. {@code kernel toward /127.0.0.1:8080: TIME_WAIT=2; on server port: ESTABLISHED=1}
     */
    public static String describe(InetSocketAddress server) {
        if (!PROBE.isAvailable()) {
            return "kernel not available";
        }
        SocketTable t = snapshot();
        StringBuilder sb = new StringBuilder("kernel toward ").append(server).append(':');
        for (TcpState s : TcpState.values()) {
            int n = t.countToRemote(s, server);
            if (n > 0) {
                sb.append(' ').append(s).append('=').append(n);
            }
        }
        sb.append("; on server port:");
        for (TcpState s : TcpState.values()) {
            int n = t.countOnLocalPort(s, server.getPort());
            if (n > 0) {
                sb.append(' ').append(s).append('=').append(n);
            }
        }
        return sb.toString();
    }
}
