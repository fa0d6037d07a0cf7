package io.github.portkeeper.test;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * The kernel's count of client TIME_WAIT sockets toward one server, taken before the code under
 * test runs, so that {@link #newSince()} tells how many that code caused. Sockets still on their
 * way to TIME_WAIT (FIN_WAIT1, FIN_WAIT2, CLOSING: the client closed first and the server's FIN
 * has not arrived yet) count too, so a check right after the client's last close is exact.
 *
 * <p>The count is a difference of two readings. TIME_WAIT lasts 60 s, so a test shorter than
 * that counts exactly. A server on a fresh port (bound to port 0) usually starts at zero, but not
 * always: that port comes from the ephemeral range, so it may have been a client port of an
 * earlier connection whose server closed first, and that server's TIME_WAIT socket, pointing at
 * it, looks like a client's; the starting reading takes such sockets out.
 *
 * <p>Thread-safety: immutable.
 */
public final class TimeWaitCount {

    private final InetSocketAddress server;
    private final int atStart;

    private TimeWaitCount(InetSocketAddress server, int atStart) {
        this.server = server;
        this.atStart = atStart;
    }

    /**
     * Reads the kernel's count now; skips the test where the kernel cannot be asked.
     *
     * @param server the server's resolved address and port
     * @return the starting count
     */
    public static TimeWaitCount toward(InetSocketAddress server) {
        Objects.requireNonNull(server, "server");
        Kernel.assumeLinux();
        return new TimeWaitCount(server, Kernel.clientClosedFirst(server));
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
     * @return the client TIME_WAIT sockets toward the server then
     */
    public int atStart() {
        return atStart;
    }

    /**
     * Reads the kernel again and returns the TIME_WAIT sockets that appeared since.
     *
     * @return the new client TIME_WAIT sockets toward the server (never negative)
     */
    public int newSince() {
        return Math.max(0, Kernel.clientClosedFirst(server) - atStart);
    }

    /** Returns the server and the starting count. */
    @Override
    public String toString() {
        return "TimeWaitCount[" + server + ", atStart=" + atStart + "]";
    }
}
