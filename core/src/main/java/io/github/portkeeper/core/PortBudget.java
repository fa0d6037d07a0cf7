package io.github.portkeeper.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;

/**
 * The port budget: how many ephemeral ports a pool may tie up toward one remote endpoint.
 *
 * <p>Each connection to a server address:port holds one local port while it is open, and for
 * {@link #TIME_WAIT_DURATION 60 s} after this host closes it first (TIME_WAIT). Linux lets a
 * 4-tuple exist once, so toward one server address:port at most as many connections can exist
 * (open or in TIME_WAIT) as the ephemeral range has ports that {@code connect()} may pick (those
 * {@code ip_local_reserved_ports} keeps back are never picked); past that, {@code connect()} fails
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
    private static final Path RESERVED_FILE = Path.of("/proc/sys/net/ipv4/ip_local_reserved_ports");
    /**
     * Room for the longest list the kernel can print (every other port of 1-65535 reserved: about
     * 196,000 characters), so one read gets all of it.
     */
    private static final int RESERVED_FILE_CAPACITY = 256 * 1024;

    private final boolean enabled;
    private final int low;
    private final int high;
    private final int reserved;
    private final double share;
    private final boolean useKernel;

    private PortBudget(boolean enabled, int low, int high, int reserved, double share, boolean useKernel) {
        this.enabled = enabled;
        this.low = low;
        this.high = high;
        this.reserved = reserved;
        this.share = share;
        this.useKernel = useKernel;
    }

    /**
     * The default: the range this host uses ({@code ip_local_port_range} on Linux, else Linux's
     * default 32768–60999) less the ports of it that {@code ip_local_reserved_ports} keeps from
     * {@code connect()}, 80% of that per endpoint, other sockets counted from the kernel.
     *
     * <p>The reserved list is read as the kernel prints it, ports and ranges separated by commas
     * ({@code 40000-40099,50000}); a list that cannot be read or is not in that form is ignored
     * (no port counts as reserved), as on hosts without it.
     *
     * @return the default budget, with the range and the reserved ports read now
     */
    public static PortBudget defaults() {
        int[] range = detectRange();
        return detected(range[0], range[1], readProcSys(RESERVED_FILE, RESERVED_FILE_CAPACITY));
    }

    /**
     * The default budget over a range and the text of {@code ip_local_reserved_ports} ({@code null}
     * where it could not be read); a list not in the kernel's form counts no port as reserved.
     */
    static PortBudget detected(int low, int high, String reservedList) {
        int reserved = 0;
        if (reservedList != null) {
            try {
                reserved = reservedIn(reservedList, low, high);
            } catch (IllegalArgumentException notTheKernelsForm) {
                // Ignored, as documented: the budget is then what it is on a host without the list.
            }
        }
        return new PortBudget(true, low, high, reserved, 0.8, true);
    }

    /**
     * How many ports of {@code low..high} an {@code ip_local_reserved_ports} list reserves. The
     * list is the kernel's: ports and {@code first-last} ranges separated by commas, each port
     * from 0 to 65535, blank for none.
     *
     * @throws IllegalArgumentException if the list is not in that form, naming it
     */
    static int reservedIn(String list, int low, int high) {
        String text = list.strip();
        if (text.isEmpty()) {
            return 0;
        }
        BitSet ports = new BitSet(65536);
        for (String item : text.split(",", -1)) {
            int dash = item.indexOf('-');
            int first = reservedPort(dash < 0 ? item : item.substring(0, dash), list);
            int last = dash < 0 ? first : reservedPort(item.substring(dash + 1), list);
            if (first > last) {
                throw badReservedList(list);
            }
            ports.set(first, last + 1);
        }
        return ports.get(low, high + 1).cardinality();
    }

    private static int reservedPort(String digits, String list) {
        if (digits.isEmpty() || digits.length() > 5 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw badReservedList(list);
        }
        int port = Integer.parseInt(digits);
        if (port > 65535) {
            throw badReservedList(list);
        }
        return port;
    }

    private static IllegalArgumentException badReservedList(String list) {
        String shown = list.length() > 200 ? list.substring(0, 200) + "..." : list;
        return new IllegalArgumentException("ip_local_reserved_ports must be ports and first-last ranges separated by "
                + "commas, such as 40000-40099,50000, but was '" + shown.strip() + "'");
    }

    /**
     * No budget: connections are opened whatever the port usage (the kernel has the last word).
     * It takes no share or kernel counting: {@link #withShare} and {@link #withKernelCounting}
     * refuse it rather than keep a setting that would be ignored.
     *
     * @return a disabled budget
     */
    public static PortBudget disabled() {
        return new PortBudget(false, DEFAULT_LOW, DEFAULT_HIGH, 0, 1.0, false);
    }

    /**
     * A budget over an explicit ephemeral range (for hosts where it cannot be read), 80% of it
     * per endpoint, other sockets counted from the kernel. No port of it counts as reserved:
     * where {@code ip_local_reserved_ports} keeps some from {@code connect()}, give the range
     * that is left, or a smaller {@link #withShare share}.
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
        return new PortBudget(true, low, high, 0, 0.8, true);
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
        return new PortBudget(enabled, low, high, reserved, share, useKernel);
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
        return new PortBudget(enabled, low, high, reserved, share, useKernel);
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
     * Ports of the range that {@code ip_local_reserved_ports} keeps from {@code connect()}, as
     * {@link #defaults()} read them; 0 for {@link #ofRange} and {@link #disabled()}.
     *
     * @return from 0 to {@link #rangeSize()}
     */
    public int reservedPorts() {
        return reserved;
    }

    /**
     * Ports of the range that {@code connect()} may pick: the range less its reserved ports.
     *
     * @return {@code rangeSize() - reservedPorts()}
     */
    public int usablePorts() {
        return rangeSize() - reserved;
    }

    /**
     * The fraction of the usable ports one endpoint may tie up.
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
     * @return {@code floor(usablePorts × share)}, at least 1
     */
    public int perEndpoint() {
        return Math.max(1, (int) Math.floor(usablePorts() * share));
    }

    /**
     * The host's ephemeral port range. {@code /proc/sys} files report a size of 0 and answer a
     * second read with end of file, so the file is read with one plain read, not readAllBytes.
     */
    static int[] detectRange() {
        String text = readProcSys(RANGE_FILE, 128);
        if (text != null) {
            try {
                String[] parts = text.trim().split("\\s+");
                if (parts.length == 2) {
                    int lo = Integer.parseInt(parts[0]);
                    int hi = Integer.parseInt(parts[1]);
                    if (lo >= 1 && hi <= 65535 && lo <= hi) {
                        return new int[] {lo, hi};
                    }
                }
            } catch (RuntimeException notARange) {
                // fall back to Linux's default range
            }
        }
        return new int[] {DEFAULT_LOW, DEFAULT_HIGH};
    }

    /**
     * A {@code /proc/sys} file's text, read with one plain read of up to {@code capacity} bytes;
     * {@code null} if it cannot be read (not Linux, no /proc) or fills the buffer (cut short).
     */
    private static String readProcSys(Path file, int capacity) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[capacity];
            int n = in.read(buf);
            return n >= 0 && n < capacity ? new String(buf, 0, Math.max(n, 0), StandardCharsets.US_ASCII) : null;
        } catch (IOException | RuntimeException notLinux) {
            return null;
        }
    }

    @Override
    public String toString() {
        return enabled ? "PortBudget{range=" + low + "-" + high + (reserved > 0 ? ", reserved=" + reserved : "") + ", share=" + share + ", perEndpoint=" + perEndpoint()
                + ", kernel=" + useKernel + "}" : "PortBudget{disabled}";
    }
}
