package io.github.portkeeper.test;

import io.github.portkeeper.core.Pool;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;

/**
 * A JUnit Jupiter extension that checks, after each test, what the test left in the kernel's socket
 * table toward a server: no new client TIME_WAIT (the client never closed first), no client
 * CLOSE_WAIT (it closed every connection the server closed), no lease still held, and a pool's
 * {@code timewait.caused} equal to the kernel's count. It works for any client: the checks read
 * the kernel, not the client.
 *
 * <pre>{@code
 * @RegisterExtension
 * final KernelCheck kernel = KernelCheck.toward(() -> server.address())
 *         .noNewClientTimeWait()
 *         .noClientCloseWait(Duration.ofSeconds(2));
 * }</pre>
 *
 * <p>Off Linux (no {@code /proc/net/tcp}) each test is skipped with {@link Kernel#UNAVAILABLE_REASON}
 * when a check that reads the kernel is enabled; one that checks only {@link #noLeaseHeld} runs
 * and checks that alone.
 *
 * <p>The checks wrap the test method itself: the starting counts are read after the
 * {@code @BeforeEach} methods (so the server may be started there; register the extension on an
 * instance field, as above) and the checks run right after the test method, before the
 * {@code @AfterEach} methods close anything. Every enabled check runs: when several fail, the
 * first failure is thrown with the others attached as suppressed, and a check that throws (say, a
 * pool supplier that fails) does not hide the others' failures.
 *
 * <p>Thread-safety: configure before registering; JUnit then calls it from one thread per test.
 */
public final class KernelCheck implements BeforeTestExecutionCallback, AfterTestExecutionCallback {

    private static final Namespace NAMESPACE = Namespace.create(KernelCheck.class);
    private static final InetAddress LOOPBACK_V4 = loopback(new byte[] {127, 0, 0, 1});
    private static final InetAddress LOOPBACK_V6 = loopback(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});

    private final Supplier<List<InetSocketAddress>> servers;
    private boolean noNewTimeWait;
    private Duration closeWaitGrace;
    private Supplier<? extends Pool<?>> pool;
    private LongSupplier caused;
    private BooleanSupplier kernelAvailable = Kernel::isAvailable;

    private KernelCheck(Supplier<List<InetSocketAddress>> servers) {
        this.servers = servers;
    }

    /**
     * Checks sockets toward the server the supplier returns before each test. The address must be
     * the one clients connect to: a wildcard address ({@code 0.0.0.0}, {@code ::}), which a server
     * bound to all interfaces reports as its own, is refused when the test starts, since no client
     * socket has it as its remote address and every check would count nothing and pass.
     *
     * @param server supplies the server's resolved address and port
     * @return a check with nothing enabled yet
     */
    public static KernelCheck toward(Supplier<InetSocketAddress> server) {
        Objects.requireNonNull(server, "server");
        return new KernelCheck(() -> List.of(Objects.requireNonNull(server.get(), "server")));
    }

    /**
     * Checks sockets toward {@code port} on the loopback addresses, IPv4 ({@code 127.0.0.1}) and
     * IPv6 ({@code ::1}) alike.
     *
     * @param port the server's port, from 1 to 65535 (a server bound to port 0 listens on
     *             another, which is the one to give here)
     * @return a check with nothing enabled yet
     * @throws IllegalArgumentException {@code "port must be between 1 and 65535, but was 0"}:
     *         no client connects to port 0, so every check would count nothing and pass
     */
    public static KernelCheck towardLoopbackPort(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be between 1 and 65535, but was " + port);
        }
        List<InetSocketAddress> loopback = List.of(new InetSocketAddress(LOOPBACK_V4, port),
                new InetSocketAddress(LOOPBACK_V6, port));
        return new KernelCheck(() -> loopback);
    }

    /**
     * Fails a test after which the kernel holds more client TIME_WAIT toward the server than before it.
     *
     * @return this check
     */
    public KernelCheck noNewClientTimeWait() {
        this.noNewTimeWait = true;
        return this;
    }

    /**
     * Fails a test after which a client socket toward the server stays in CLOSE_WAIT longer than {@code grace}.
     *
     * @param grace how long closes already on their way may take; zero checks once, without waiting
     * @return this check
     * @throws NullPointerException {@code "grace"}, if {@code grace} is {@code null}
     * @throws IllegalArgumentException {@code "grace must not be negative, but was PT-1S"}
     */
    public KernelCheck noClientCloseWait(Duration grace) {
        this.closeWaitGrace = PortkeeperAssertions.checkGrace(grace);
        return this;
    }

    /**
     * Fails a test after which the supplied pool still holds a lease. Alone, this check does not
     * read the kernel, so it runs off Linux too.
     *
     * @param pool supplies the pool under test
     * @return this check
     */
    public KernelCheck noLeaseHeld(Supplier<? extends Pool<?>> pool) {
        this.pool = Objects.requireNonNull(pool, "pool");
        return this;
    }

    /**
     * Fails a test in which the pool's {@code timewait.caused} grew by a different amount than the
     * kernel's count of client TIME_WAIT toward the server.
     *
     * @param caused reads the pool's counter, e.g. {@code tally::timeWaitCaused}
     * @return this check
     */
    public KernelCheck timeWaitCausedMatchesKernel(LongSupplier caused) {
        this.caused = Objects.requireNonNull(caused, "caused");
        return this;
    }

    /** Replaces the question "can the kernel be asked here?", for the kit's own tests. */
    KernelCheck kernelAvailable(BooleanSupplier available) {
        this.kernelAvailable = Objects.requireNonNull(available, "available");
        return this;
    }

    private static InetAddress loopback(byte[] address) {
        try {
            return InetAddress.getByAddress(address);
        } catch (UnknownHostException e) {
            throw new ExceptionInInitializerError(e); // never: the length is right
        }
    }

    private boolean readsKernel() {
        return noNewTimeWait || closeWaitGrace != null || caused != null;
    }

    @Override
    public void beforeTestExecution(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        if (readsKernel()) {
            List<InetSocketAddress> toward = List.copyOf(servers.get());
            toward.forEach(Kernel::requireConnectable); // refused everywhere, not only where the kernel can be asked
            Assumptions.assumeTrue(kernelAvailable.getAsBoolean(), Kernel.UNAVAILABLE_REASON);
            store.put("servers", toward);
            store.put("timeWait", toward.stream().map(TimeWaitCount::toward).toList());
            if (caused != null) {
                store.put("caused", caused.getAsLong());
            }
        }
        store.put("started", Boolean.TRUE);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterTestExecution(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        if (store.get("started") == null) {
            return; // skipped before it started
        }
        List<InetSocketAddress> toward = store.get("servers", List.class);
        List<TimeWaitCount> before = store.get("timeWait", List.class);
        List<Throwable> failures = new ArrayList<>();
        check(failures, () -> {
            if (pool != null) {
                PortkeeperAssertions.assertNoLeaseHeld(pool.get());
            }
        });
        check(failures, () -> {
            if (closeWaitGrace != null) {
                PortkeeperAssertions.assertNoClientCloseWaitTowardAll(toward, closeWaitGrace);
            }
        });
        check(failures, () -> {
            if (noNewTimeWait) {
                PortkeeperAssertions.assertNoNewClientTimeWaitTowardAll(before);
            }
        });
        check(failures, () -> {
            if (caused != null) {
                long delta = caused.getAsLong() - store.get("caused", Long.class);
                PortkeeperAssertions.assertTimeWaitCausedMatchesKernelTowardAll(delta, before);
            }
        });
        if (!failures.isEmpty()) {
            Throwable first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            if (first instanceof Error error) {
                throw error;
            }
            throw (RuntimeException) first;
        }
    }

    /** Runs one check; its failure, an assertion's or an exception, is kept so the others still run. */
    private static void check(List<Throwable> failures, Runnable assertion) {
        try {
            assertion.run();
        } catch (AssertionError | RuntimeException e) {
            failures.add(e);
        }
    }
}
