package io.github.portkeeper.test;

import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import java.net.InetSocketAddress;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The client sockets toward one server that closed first, taken before the code under test runs,
 * so that {@link #newSince()} tells how many that code caused. Sockets still on their way to
 * TIME_WAIT (FIN_WAIT1, FIN_WAIT2, CLOSING: the client closed first and the server's FIN has not
 * arrived yet) count too, so a check right after the client's last close is exact.
 *
 * <p>Each socket is known by its local port, not only counted: a socket already there at the
 * start (e.g. in FIN_WAIT2, or in TIME_WAIT from an earlier test) is never counted again, and one
 * that goes away during the test (its TIME_WAIT expires, the server resets it) does not hide a new
 * one, as a difference of two totals would. A socket still there from the start is one with a
 * local port seen at the start, in the same state or one it can have moved on to (FIN_WAIT1 to
 * FIN_WAIT2 or CLOSING, those to TIME_WAIT). The one case this misses is a new connection that
 * reuses the local port of a socket seen at the start, and reaches the same state or a later one,
 * before the check: it needs the start's socket gone and its port picked again within the test.
 *
 * <p>A server on a fresh port (bound to port 0) usually starts with none, but not always: that
 * port comes from the ephemeral range, so it may have been a client port of an earlier
 * connection whose server closed first, and that server's TIME_WAIT socket, pointing at it, looks
 * like a client's; such sockets are there at the start, so they are left out.
 *
 * <p>Thread-safety: immutable.
 */
public final class TimeWaitCount {

    /** The states of a socket whose side closed first, in the order it moves through them. */
    private static final List<TcpState> CLOSED_FIRST =
            List.of(TcpState.FIN_WAIT1, TcpState.FIN_WAIT2, TcpState.CLOSING, TcpState.TIME_WAIT);

    /** The states one socket in each of those can later be seen in: it never moves back. */
    private static final Map<TcpState, List<TcpState>> NEXT = new EnumMap<>(Map.of(
            TcpState.FIN_WAIT1, List.of(TcpState.FIN_WAIT1, TcpState.FIN_WAIT2, TcpState.CLOSING, TcpState.TIME_WAIT),
            TcpState.FIN_WAIT2, List.of(TcpState.FIN_WAIT2, TcpState.TIME_WAIT),
            TcpState.CLOSING, List.of(TcpState.CLOSING, TcpState.TIME_WAIT),
            TcpState.TIME_WAIT, List.of(TcpState.TIME_WAIT)));

    private final InetSocketAddress server;
    private final Map<Integer, TcpState> atStart;

    private TimeWaitCount(InetSocketAddress server, Map<Integer, TcpState> atStart) {
        this.server = server;
        this.atStart = atStart;
    }

    /**
     * Reads the kernel now; skips the test where the kernel cannot be asked.
     *
     * @param server the server's resolved address and port, the one clients connect to
     * @return the starting sockets
     * @throws NullPointerException {@code "server"}, if {@code server} is {@code null}
     * @throws IllegalArgumentException if {@code server} is unresolved, or a wildcard address such
     *         as {@code 0.0.0.0} (no client connects to one, so every check would count nothing
     *         and pass)
     */
    public static TimeWaitCount toward(InetSocketAddress server) {
        Kernel.requireConnectable(server);
        Kernel.assumeLinux();
        return new TimeWaitCount(server, closedFirstByPort(Kernel.snapshot(), server));
    }

    /**
     * Returns the server counted.
     *
     * @return its address and port
     */
    public InetSocketAddress server() {
        return server;
    }

    /**
     * Returns the count when this was taken.
     *
     * @return the client sockets toward the server that had closed first then: in TIME_WAIT, or
     *         on their way to it
     */
    public int atStart() {
        return atStart.size();
    }

    /**
     * Reads the kernel again and returns the client sockets toward the server that closed first
     * and were not there when this was taken.
     *
     * @return the new client TIME_WAIT sockets toward the server, with those on their way to it
     */
    public int newSince() {
        return countNew(atStart, closedFirstByPort(Kernel.snapshot(), server));
    }

    /** Returns the server and the starting count. */
    @Override
    public String toString() {
        return "TimeWaitCount[" + server + ", atStart=" + atStart() + "]";
    }

    /** The client sockets toward {@code server} that closed first, by local port. */
    static Map<Integer, TcpState> closedFirstByPort(SocketTable table, InetSocketAddress server) {
        Map<Integer, TcpState> byPort = new HashMap<>();
        for (TcpState state : CLOSED_FIRST) {
            for (int port : table.localPortsToRemote(state, server)) {
                byPort.put(port, state);
            }
        }
        return Map.copyOf(byPort);
    }

    /** Counts the sockets of {@code now} that are not those of {@code atStart}, moved on or not. */
    static int countNew(Map<Integer, TcpState> atStart, Map<Integer, TcpState> now) {
        int fresh = 0;
        for (Map.Entry<Integer, TcpState> e : now.entrySet()) {
            TcpState then = atStart.get(e.getKey());
            if (then == null || !canMoveTo(then, e.getValue())) {
                fresh++;
            }
        }
        return fresh;
    }

    /** Whether one socket in {@code from} can later be seen in {@code to}. */
    private static boolean canMoveTo(TcpState from, TcpState to) {
        return NEXT.get(Objects.requireNonNull(from)).contains(to);
    }
}
