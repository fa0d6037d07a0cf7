package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import org.junit.jupiter.api.Assumptions;

import java.net.InetSocketAddress;

/**
 * The kernel as the judge of the tests: counts from {@code /proc/net/tcp{,6}} of this host's
 * sockets toward a test server (client side) and on its port (server side). Client and server
 * share the host, so "toward the server's address" and "on the server's port" tell the sides apart.
 */
public final class Kernel {

    private static final KernelProbe PROBE = KernelProbe.linux();

    private Kernel() {
    }

    public static boolean isAvailable() {
        return PROBE.isAvailable();
    }

    /** Skips the calling test where the kernel cannot be asked. */
    public static void assumeLinux() {
        Assumptions.assumeTrue(PROBE.isAvailable(),
                "needs /proc/net/tcp (Linux) to count TIME_WAIT and CLOSE_WAIT sockets: the kernel is the judge of this test");
    }

    public static SocketTable snapshot() {
        return PROBE.snapshot();
    }

    /** Client-side sockets in {@code state} whose remote end is {@code server}. */
    public static int toward(InetSocketAddress server, TcpState state) {
        return snapshot().countToRemote(state, server);
    }

    /** TIME_WAIT sockets this host holds as the client of {@code server}: the cost of closing first. */
    public static int clientTimeWait(InetSocketAddress server) {
        return toward(server, TcpState.TIME_WAIT);
    }

    /** CLOSE_WAIT sockets toward {@code server}: the server closed and the client has not. */
    public static int clientCloseWait(InetSocketAddress server) {
        return toward(server, TcpState.CLOSE_WAIT);
    }

    /** TIME_WAIT sockets on the server's side of its port: the server closed first. */
    public static int serverTimeWait(int port) {
        return snapshot().countOnLocalPort(TcpState.TIME_WAIT, port);
    }

    /** One line for assertion messages and reports. */
    public static String describe(InetSocketAddress server) {
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
