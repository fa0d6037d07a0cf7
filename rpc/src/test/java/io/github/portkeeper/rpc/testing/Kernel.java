package io.github.portkeeper.rpc.testing;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The kernel's socket table as the judge: counts of this host's client sockets toward a server. */
public final class Kernel {

    private static final KernelProbe PROBE = KernelProbe.linux();

    private Kernel() {
    }

    /** Skips the test where there is no {@code /proc/net/tcp} (not Linux). */
    public static void assumeAvailable() {
        assumeTrue(PROBE.isAvailable(), "needs /proc/net/tcp (Linux) to check sockets against the kernel");
    }

    public static boolean isAvailable() {
        return PROBE.isAvailable();
    }

    /** Client-side sockets in {@code state} toward {@code server}; 0 where the probe is unavailable. */
    public static int toServer(TcpState state, InetSocketAddress server) {
        return PROBE.isAvailable() ? PROBE.snapshot().countToRemote(state, server) : 0;
    }

    public static int timeWaitTo(InetSocketAddress server) {
        return toServer(TcpState.TIME_WAIT, server);
    }

    public static int closeWaitTo(InetSocketAddress server) {
        return toServer(TcpState.CLOSE_WAIT, server);
    }
}
