package io.github.portkeeper.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The port budget: how many ephemeral ports a pool may tie up toward one remote endpoint.
 *
 * <p>Each connection to a server address:port holds one local port while it is open, and for
 * {@link #TIME_WAIT_DURATION 60 s} after this host closes it first (TIME_WAIT). Linux lets a
 * 4-tuple exist once, so toward one server address:port at most as many connections can exist
 * (open or in TIME_WAIT) as the ephemeral range has ports; past that, {@code connect()} fails
 * with EADDRNOTAVAIL ("Cannot assign requested address"). The pool counts, per endpoint, its
 * open connections, the TIME_WAIT its own closes left in the last 60 s and, where the kernel
 * probe is available, every other socket on this host toward the same address:port (other pools
 * and processes share the ports). A new connection that would pass the budget waits for a
 * connection to come back, then fails with {@link PortBudgetExhaustedException} — never a
 * mystery EADDRNOTAVAIL.
 *
 * <p>Immutable and safe to share.
 */
public final class PortBudget {

    /** How long a TIME_WAIT socket holds its port on Linux ({@code TCP_TIMEWAIT_LEN}, not tunable). */
    public static final Duration TIME_WAIT_DURATION = Duration.ofSeconds(60);

    /** Linux's default {@code net.ipv4.ip_local_port_range}. */
    private static final int DEFAULT_LOW = 32768;
    private static final int DEFAULT_HIGH = 60999;
    private static final Path RANGE_FILE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

    private final boolean enabled;
    private final int low;
    private final int high;
    private final double share;
    private final boolean useKernel;

    private PortBudget(boolean enabled, int low, int high, double share, boolean useKernel) {
        this.enabled = enabled;
        this.low = low;
        this.high = high;
        this.share = share;
        this.useKernel = useKernel;
    }

    /**
     * The default: the range this host uses ({@code ip_local_port_range} on Linux, else Linux's
     * default 32768–60999), 80% of it per endpoint, other sockets counted from the kernel.
     *
     * @return the default budget, with the range read now
     */
    public static PortBudget defaults() {
        int[] range = detectRange();
        return new PortBudget(true, range[0], range[1], 0.8, true);
    }

    /**
     * No budget: connections are opened whatever the port usage (the kernel has the last word).
     * It takes no share or kernel counting: {@link #withShare} and {@link #withKernelCounting}
     * refuse it rather than keep a setting that would be ignored.
     *
     * @return a disabled budget
     */
    public static PortBudget disabled() {
        return new PortBudget(false, DEFAULT_LOW, DEFAULT_HIGH, 1.0, false);
    }

    /**
     * A budget over an explicit ephemeral range (for hosts where it cannot be read), 80% of it
     * per endpoint, other sockets counted from the kernel.
     *
     * @param low  the range's first port
     * @param high the range's last port, inclusive
     * @return the budget
     * @throws IllegalArgumentException unless {@code 1 <= low <= high <= 65535}
     */
    public static PortBudget ofRange(int low, int high) {
        if (low < 1 || high > 65535 || low > high) {
            throw new IllegalArgumentException("port budget range must satisfy 1 <= low <= high <= 65535, but was " + low + "-" + high);
        }
        return new PortBudget(true, low, high, 0.8, true);
    }

    /**
     * The same budget allowing a share of the range per endpoint. Default 0.8: the rest is left
     * for other pools and processes that connect to the same endpoint.
     *
     * @param share the fraction of the range, {@code 0 < share <= 1}
     * @return a new budget; this one is unchanged
     * @throws IllegalArgumentException if {@code share} is out of range, or this budget is
     *         {@link #disabled()} (which would ignore it)
     */
    public PortBudget withShare(double share) {
        enabledFor("share", "share " + share);
        if (!(share > 0 && share <= 1)) {
            throw new IllegalArgumentException("port budget share must be > 0 and <= 1, but was " + share);
        }
        return new PortBudget(enabled, low, high, share, useKernel);
    }

    /**
     * Whether to count other sockets on this host toward the endpoint, from the kernel probe.
     * Default on; off, the pool counts only its own connections and TIME_WAIT.
     *
     * @param useKernel whether to count from the kernel where its socket table can be read
     * @return a new budget; this one is unchanged
     * @throws IllegalArgumentException if this budget is {@link #disabled()} (which would
     *         ignore it)
     */
    public PortBudget withKernelCounting(boolean useKernel) {
        enabledFor("kernel counting", "kernel counting " + useKernel);
        return new PortBudget(enabled, low, high, share, useKernel);
    }

    /** A wither's setting would be ignored by a disabled budget: refuse it, naming it and its value. */
    private void enabledFor(String setting, String value) {
        if (!enabled) {
            throw new IllegalArgumentException("port budget " + setting + " applies only to an enabled budget, not to "
                    + "PortBudget.disabled() (" + value + " would be ignored); start from PortBudget.defaults() or "
                    + "PortBudget.ofRange(low, high)");
        }
    }

    /**
     * Whether the budget is enforced.
     *
     * @return {@code false} only for {@link #disabled()}
     */
    public boolean isEnabled() {
        return enabled;
    }

    /**
     * The ephemeral range's first port.
     *
     * @return the port number
     */
    public int rangeLow() {
        return low;
    }

    /**
     * The ephemeral range's last port, inclusive.
     *
     * @return the port number
     */
    public int rangeHigh() {
        return high;
    }

    /**
     * Ports in the ephemeral range.
     *
     * @return {@code rangeHigh() - rangeLow() + 1}
     */
    public int rangeSize() {
        return high - low + 1;
    }

    /**
     * The fraction of the range one endpoint may tie up.
     *
     * @return a value in {@code (0, 1]}
     */
    public double share() {
        return share;
    }

    /**
     * Whether other sockets on this host toward the endpoint are counted, from the kernel probe.
     *
     * @return {@code true} if the kernel's socket table is consulted where it can be read
     */
    public boolean usesKernel() {
        return useKernel;
    }

    /**
     * Ports one endpoint may tie up.
     *
     * @return {@code floor(rangeSize × share)}, at least 1
     */
    public int perEndpoint() {
        return Math.max(1, (int) Math.floor(rangeSize() * share));
    }

    /**
     * The host's ephemeral port range. {@code /proc/sys} files report a size of 0 and answer a
     * second read with end of file, so the file is read with one plain read, not readAllBytes.
     */
    static int[] detectRange() {
        try (InputStream in = Files.newInputStream(RANGE_FILE)) {
            byte[] buf = new byte[128];
            int n = in.read(buf);
            if (n > 0) {
                String[] parts = new String(buf, 0, n, StandardCharsets.US_ASCII).trim().split("\\s+");
                if (parts.length == 2) {
                    int lo = Integer.parseInt(parts[0]);
                    int hi = Integer.parseInt(parts[1]);
                    if (lo >= 1 && hi <= 65535 && lo <= hi) {
                        return new int[] {lo, hi};
                    }
                }
            }
        } catch (IOException | RuntimeException notLinux) {
            // Not Linux, or no /proc: fall back to Linux's default range.
        }
        return new int[] {DEFAULT_LOW, DEFAULT_HIGH};
    }

    @Override
    public String toString() {
        return enabled ? "PortBudget{range=" + low + "-" + high + ", share=" + share + ", perEndpoint=" + perEndpoint()
                + ", kernel=" + useKernel + "}" : "PortBudget{disabled}";
    }
}
