package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.ProcNetTcpParser;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Reads the kernel's own list of TCP sockets, {@code /proc/net/tcp} and {@code /proc/net/tcp6},
 * so that claims such as "this pool left no TIME_WAIT behind" are checked against the kernel
 * rather than against our own bookkeeping.
 *
 * <pre>{@code
 * KernelProbe probe = KernelProbe.linux();
 * if (probe.isAvailable()) {
 *     int timeWait = probe.snapshot().countToRemote(TcpState.TIME_WAIT, serverAddress);
 * }
 * }</pre>
 *
 * <p>The tables are those of the network namespace of the calling process. Where they do not
 * exist (macOS, Windows, a Linux without {@code /proc}) the probe is simply unavailable; callers
 * such as the metrics binder then register no kernel gauges.
 *
 * <p>Each {@link #snapshot()} reads the files anew with one bulk read each; a host with 100,000
 * sockets parses in a few tens of milliseconds, so poll at human rates (seconds), not per request.
 *
 * <p>Thread-safety: immutable, safe to share; concurrent snapshots are independent.
 */
public final class KernelProbe {

    private final Path tcp;
    private final Path tcp6;

    private KernelProbe(Path tcp, Path tcp6) {
        this.tcp = tcp;
        this.tcp6 = tcp6;
    }

    /**
     * Returns a probe of this host's sockets: {@code /proc/net/tcp} and {@code /proc/net/tcp6}
     * of the current network namespace.
     *
     * @return the probe; check {@link #isAvailable()} before taking snapshots
     */
    public static KernelProbe linux() {
        return new KernelProbe(ProcNetTcpParser.PROC_NET_TCP, ProcNetTcpParser.PROC_NET_TCP6);
    }

    /**
     * Returns a probe reading tables in the format of {@code /proc/net/tcp} from the given
     * files, e.g. another process's {@code /proc/<pid>/net/tcp} (its network namespace), or
     * files written by a test. Either file may be absent (a kernel without IPv6 has no
     * {@code tcp6}); an absent file counts as an empty table.
     *
     * @param tcp the IPv4 table, like {@code /proc/net/tcp}
     * @param tcp6 the IPv6 table, like {@code /proc/net/tcp6}
     * @return the probe
     */
    public static KernelProbe reading(Path tcp, Path tcp6) {
        return new KernelProbe(Objects.requireNonNull(tcp, "tcp"), Objects.requireNonNull(tcp6, "tcp6"));
    }

    /**
     * Tells whether this probe can take snapshots: at least one of its two files exists. Checked
     * on each call (a file-system lookup, no read).
     *
     * @return {@code false} where there is no {@code /proc/net/tcp}, e.g. on macOS
     */
    public boolean isAvailable() {
        return Files.exists(tcp) || Files.exists(tcp6);
    }

    /**
     * Reads both tables now and returns their sockets.
     *
     * @return an immutable snapshot of the sockets
     * @throws IllegalStateException if the probe is unavailable (neither file exists)
     * @throws UncheckedIOException if a file exists but cannot be read
     */
    public SocketTable snapshot() {
        ProcNetTcpParser.Sockets sockets = ProcNetTcpParser.read(tcp, tcp6);
        if (sockets == null) {
            throw new IllegalStateException("Kernel probe unavailable: neither " + tcp + " nor "
                    + tcp6 + " exists (not Linux, or /proc not mounted); check isAvailable() first");
        }
        return new SocketTable(sockets);
    }

    /** Returns the two files this probe reads. */
    @Override
    public String toString() {
        return "KernelProbe[" + tcp + ", " + tcp6 + "]";
    }
}
