package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What the kernel of this network namespace says about ephemeral ports: the range
 * ({@code ip_local_port_range}) and whether TIME_WAIT sockets may be reused
 * ({@code tcp_tw_reuse}). Empty where there is no {@code /proc/sys} (not Linux).
 */
final class HostFacts {

    private static final Path SYSCTL = Path.of("/proc/sys/net/ipv4");

    private final int low;
    private final int high;
    private final String twReuse;
    private SocketTable table;

    HostFacts(int low, int high, String twReuse) {
        this.low = low;
        this.high = high;
        this.twReuse = twReuse;
    }

    static HostFacts read() {
        Optional<String> range = sysctl("ip_local_port_range");
        int lo = 32_768;
        int hi = 60_999;
        if (range.isPresent()) {
            String[] parts = range.get().trim().split("\\s+");
            if (parts.length == 2) {
                try {
                    lo = Integer.parseInt(parts[0]);
                    hi = Integer.parseInt(parts[1]);
                } catch (NumberFormatException ignored) {
                    // keep Linux's defaults
                }
            }
        }
        return new HostFacts(lo, hi, sysctl("tcp_tw_reuse").map(String::trim).orElse(null));
    }

    boolean known() {
        return twReuse != null;
    }

    int low() {
        return low;
    }

    int high() {
        return high;
    }

    int rangeSize() {
        return high - low + 1;
    }

    boolean isEphemeral(int port) {
        return port >= low && port <= high;
    }

    /** tcp_tw_reuse as the kernel reports it, or {@code null} where unknown. */
    String twReuse() {
        return twReuse;
    }

    /** Whether any socket on the host has {@code port} as its local port (false where the kernel cannot be read). */
    boolean portInUse(int port) {
        KernelProbe probe = KernelProbe.linux();
        if (!probe.isAvailable()) {
            return false;
        }
        if (table == null) {
            table = probe.snapshot();
        }
        for (TcpState state : TcpState.values()) {
            if (table.countOnLocalPort(state, port) > 0) {
                return true;
            }
        }
        return false;
    }

    /** One line for the report's header. */
    String describe() {
        if (!known()) {
            return "ephemeral ports: unknown (no /proc/sys here)";
        }
        String reuse;
        switch (twReuse) {
            case "0": reuse = "tcp_tw_reuse=0 (TIME_WAIT never reused)"; break;
            case "1": reuse = "tcp_tw_reuse=1 (TIME_WAIT reused for new connections)"; break;
            case "2": reuse = "tcp_tw_reuse=2 (TIME_WAIT reused on loopback only)"; break;
            default: reuse = "tcp_tw_reuse=" + twReuse;
        }
        return String.format("ephemeral ports %d-%d (%,d), %s", low, high, rangeSize(), reuse);
    }

    /**
     * Reads a sysctl with one large read. Not {@code Files.readString}: /proc/sys files report
     * size 0, so it would start with a tiny read, and the sysctl handlers answer a read at a
     * non-zero offset with end of file.
     */
    static Optional<String> sysctl(String name) {
        try (InputStream in = Files.newInputStream(SYSCTL.resolve(name))) {
            byte[] buf = new byte[256];
            int n = in.read(buf);
            return n <= 0 ? Optional.empty() : Optional.of(new String(buf, 0, n, StandardCharsets.US_ASCII).trim());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
