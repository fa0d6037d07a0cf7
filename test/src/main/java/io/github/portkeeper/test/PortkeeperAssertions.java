package io.github.portkeeper.test;

import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolStats;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.IntSupplier;
import java.util.stream.Collectors;
import org.opentest4j.AssertionFailedError;

/**
 * Assertions over the kernel's socket table and a pool's state, for any test framework (they
 * throw {@link AssertionFailedError}). Those that read the kernel skip the test with
 * {@link Kernel#UNAVAILABLE_REASON} where there is no {@code /proc/net/tcp}.
 *
 * <pre>{@code
 * TimeWaitCount tw = TimeWaitCount.toward(server);   // before the code under test
 * ... run the client ...
 * assertNoNewClientTimeWait(tw);
 * assertNoClientCloseWait(server, Duration.ofSeconds(2));
 * assertNoLeaseHeld(pool);
 * assertTimeWaitCausedMatchesKernel(tally.timeWaitCaused(), tw);
 * }</pre>
 *
 * <p>Thread-safety: stateless.
 */
public final class PortkeeperAssertions {

    private static final long POLL_MILLIS = 20;

    private PortkeeperAssertions() {
    }

    /**
     * Asserts that no client TIME_WAIT toward the counted server appeared since {@code before}
     * was taken: the client never closed first.
     *
     * @param before the count taken before the code under test ran
     */
    public static void assertNoNewClientTimeWait(TimeWaitCount before) {
        assertNoNewClientTimeWaitTowardAll(List.of(Objects.requireNonNull(before, "before")));
    }

    /** As {@link #assertNoNewClientTimeWait(TimeWaitCount)}, toward any of the servers counted. */
    static void assertNoNewClientTimeWaitTowardAll(List<TimeWaitCount> before) {
        int fresh = before.stream().mapToInt(TimeWaitCount::newSince).sum();
        if (fresh != 0) {
            List<InetSocketAddress> servers = before.stream().map(TimeWaitCount::server).toList();
            throw new AssertionFailedError("expected no new client TIME_WAIT toward " + names(servers) + ", but "
                    + fresh + " appeared: the client closed first " + fresh + " times (" + describe(servers)
                    + ")", 0, fresh);
        }
    }

    /**
     * Asserts that no client socket toward {@code server} is in CLOSE_WAIT, waiting up to
     * {@code grace} for closes that are on their way (a pool closes a connection the server
     * closed shortly after, not at once).
     *
     * @param server the server's resolved address and port, the one clients connect to
     * @param grace how long CLOSE_WAIT may take to clear; zero checks once, without waiting
     * @throws NullPointerException {@code "server"} or {@code "grace"}, if one is {@code null}
     * @throws IllegalArgumentException {@code "grace must not be negative, but was PT-1S"}, or a
     *         {@code server} that is unresolved or a wildcard address such as {@code 0.0.0.0} (no
     *         client connects to one, so the check would count nothing and pass)
     */
    public static void assertNoClientCloseWait(InetSocketAddress server, Duration grace) {
        Kernel.requireConnectable(server);
        assertNoClientCloseWaitTowardAll(List.of(server), grace);
    }

    /** As {@link #assertNoClientCloseWait(InetSocketAddress, Duration)}, toward any of {@code servers}. */
    static void assertNoClientCloseWaitTowardAll(List<InetSocketAddress> servers, Duration grace) {
        servers.forEach(Kernel::requireConnectable);
        checkGrace(grace);
        Kernel.assumeLinux();
        int left = awaitZero(() -> servers.stream().mapToInt(Kernel::clientCloseWait).sum(), grace);
        if (left != 0) {
            throw new AssertionFailedError("expected no client CLOSE_WAIT toward " + names(servers) + " after " + grace
                    + ", but " + left + " remain: the server closed and the client never did (" + describe(servers)
                    + ")", 0, left);
        }
    }

    /**
     * Asserts that {@code pool} holds no lease: every connection was given back.
     *
     * @param pool the pool
     */
    public static void assertNoLeaseHeld(Pool<?> pool) {
        PoolStats stats = Objects.requireNonNull(pool, "pool").stats();
        if (stats.active() != 0) {
            StringBuilder held = new StringBuilder();
            stats.endpoints().forEach((endpoint, s) -> {
                if (s.active() > 0) {
                    held.append(' ').append(endpoint).append('=').append(s.active());
                }
            });
            throw new AssertionFailedError("expected no Portkeeper lease still held by pool '" + pool.name()
                    + "', but " + stats.active() + " are:" + held + " (a lease not closed, e.g. outside "
                    + "try-with-resources)", 0, stats.active());
        }
    }

    /**
     * Asserts that the TIME_WAIT sockets a pool says it caused (its {@code timewait.caused}
     * counter since {@code before} was taken) equal the kernel's count of new client TIME_WAIT
     * toward the server.
     *
     * @param caused what the pool counted since {@code before}, e.g.
     *     {@link TallyListener#timeWaitCaused()} or the Micrometer counter's increase
     * @param before the count taken before the code under test ran
     */
    public static void assertTimeWaitCausedMatchesKernel(long caused, TimeWaitCount before) {
        assertTimeWaitCausedMatchesKernelTowardAll(caused, List.of(Objects.requireNonNull(before, "before")));
    }

    /** As {@link #assertTimeWaitCausedMatchesKernel(long, TimeWaitCount)}, toward any of the servers counted. */
    static void assertTimeWaitCausedMatchesKernelTowardAll(long caused, List<TimeWaitCount> before) {
        int kernel = before.stream().mapToInt(TimeWaitCount::newSince).sum();
        if (kernel != caused) {
            List<InetSocketAddress> servers = before.stream().map(TimeWaitCount::server).toList();
            throw new AssertionFailedError("expected timewait.caused to equal the kernel's new client TIME_WAIT toward "
                    + names(servers) + ", but the pool counted " + caused + " and the kernel " + kernel, kernel, caused);
        }
    }

    /** The servers, for a message: {@code /127.0.0.1:8080}, or {@code /127.0.0.1:8080 or /0:0:0:0:0:0:0:1:8080}. */
    private static String names(List<InetSocketAddress> servers) {
        return servers.stream().map(String::valueOf).collect(Collectors.joining(" or "));
    }

    private static String describe(List<InetSocketAddress> servers) {
        return servers.stream().map(Kernel::describe).collect(Collectors.joining("; "));
    }

    /** A CLOSE_WAIT grace: not null, not negative. */
    static Duration checkGrace(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace must not be negative, but was " + grace);
        }
        return grace;
    }

    /** Polls until {@code count} is zero or {@code grace} has passed; returns the last count. */
    static int awaitZero(IntSupplier count, Duration grace) {
        // Elapsed time against the budget, never a deadline: a grace past the nanosecond clock's
        // range (about 292 years) is "as long as it takes", not an overflow.
        long budget = grace.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : grace.toNanos();
        long start = System.nanoTime();
        int n = count.getAsInt();
        while (n != 0 && System.nanoTime() - start < budget) {
            try {
                Thread.sleep(POLL_MILLIS); // polling the kernel, not synchronising with the code under test
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            n = count.getAsInt();
        }
        return n;
    }
}
