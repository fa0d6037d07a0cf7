package io.github.portkeeper.test;

import io.github.portkeeper.core.Pool;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
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
 * <p>Off Linux (no {@code /proc/net/tcp}) each test is skipped with {@link Kernel#UNAVAILABLE_REASON}.
 * The checks wrap the test method itself: the starting counts are read after the
 * {@code @BeforeEach} methods (so the server may be started there; register the extension on an
 * instance field, as above) and the checks run right after the test method, before the
 * {@code @AfterEach} methods close anything.
 *
 * <p>Thread-safety: configure before registering; JUnit then calls it from one thread per test.
 */
public final class KernelCheck implements BeforeTestExecutionCallback, AfterTestExecutionCallback {

    private static final Namespace NAMESPACE = Namespace.create(KernelCheck.class);

    private final Supplier<InetSocketAddress> server;
    private boolean noNewTimeWait;
    private Duration closeWaitGrace;
    private Supplier<? extends Pool<?>> pool;
    private LongSupplier caused;

    private KernelCheck(Supplier<InetSocketAddress> server) {
        this.server = server;
    }

    /**
     * Checks sockets toward the server the supplier returns before each test.
     *
     * @param server supplies the server's resolved address and port
     * @return a check with nothing enabled yet
     */
    public static KernelCheck toward(Supplier<InetSocketAddress> server) {
        return new KernelCheck(Objects.requireNonNull(server, "server"));
    }

    /**
     * Checks sockets toward {@code port} on the loopback address.
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
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        return new KernelCheck(() -> address);
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
     * Fails a test after which the supplied pool still holds a lease.
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

    @Override
    public void beforeTestExecution(ExtensionContext context) {
        Kernel.assumeLinux();
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        store.put("timeWait", TimeWaitCount.toward(server.get()));
        if (caused != null) {
            store.put("caused", caused.getAsLong());
        }
    }

    @Override
    public void afterTestExecution(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        TimeWaitCount before = store.get("timeWait", TimeWaitCount.class);
        if (before == null) {
            return; // skipped before it started
        }
        List<AssertionError> failures = new ArrayList<>();
        check(failures, () -> {
            if (pool != null) {
                PortkeeperAssertions.assertNoLeaseHeld(pool.get());
            }
        });
        check(failures, () -> {
            if (closeWaitGrace != null) {
                PortkeeperAssertions.assertNoClientCloseWait(before.server(), closeWaitGrace);
            }
        });
        check(failures, () -> {
            if (noNewTimeWait) {
                PortkeeperAssertions.assertNoNewClientTimeWait(before);
            }
        });
        check(failures, () -> {
            if (caused != null) {
                long delta = caused.getAsLong() - store.get("caused", Long.class);
                PortkeeperAssertions.assertTimeWaitCausedMatchesKernel(delta, before);
            }
        });
        if (!failures.isEmpty()) {
            AssertionError first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }

    private static void check(List<AssertionError> failures, Runnable assertion) {
        try {
            assertion.run();
        } catch (AssertionError e) {
            failures.add(e);
        }
    }
}
