package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.PortBudgetExhaustedException;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.testing.Host;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The child process of {@link PortBudgetReservedPortsNamespaceTest}, run inside a network
 * namespace whose {@code ip_local_reserved_ports} keeps half of its 200-port range from
 * {@code connect()}. A pool with the default budget and {@link Retirement#local()} retires
 * connections to an echo server as fast as {@code threads} threads can (a TIME_WAIT each), until
 * each thread gets {@link PortBudgetExhaustedException} or another failure. Prints
 * {@code RESULT key=value} lines; exits 0, or 2 with a stack trace on an unexpected error. Not a
 * test itself.
 *
 * <p>Arguments: {@code serverPort threads}.
 */
public final class ReservedPortsWorkload {

    private ReservedPortsWorkload() {
    }

    public static void main(String[] args) {
        try {
            run(Integer.parseInt(args[0]), Integer.parseInt(args[1]));
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.flush();
            System.exit(2);
        }
    }

    private static void result(String key, Object value) {
        System.out.println(Host.RESULT_PREFIX + key + "=" + value);
        System.out.flush();
    }

    private static void run(int serverPort, int threads) throws Exception {
        result("portRange", Host.readSysctl("/proc/sys/net/ipv4/ip_local_port_range").replaceAll("\\s+", "-"));
        result("reserved", Host.readSysctl("/proc/sys/net/ipv4/ip_local_reserved_ports"));
        InetSocketAddress server = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), serverPort);
        Endpoint endpoint = Endpoint.of("127.0.0.1", serverPort);
        AtomicInteger connections = new AtomicInteger();
        AtomicInteger exhausted = new AtomicInteger();
        AtomicInteger eaddrnotavail = new AtomicInteger();
        AtomicInteger otherErrors = new AtomicInteger();
        AtomicReference<String> firstError = new AtomicReference<>("none");
        AtomicReference<String> exhaustedMessage = new AtomicReference<>("none");
        try (HoldingServer echo = HoldingServer.start(server, true)) {
            Pool<SocketChannel> pool = Pool.of(new Channels(), PoolConfig.builder()
                    .name("reserved")
                    .maxPerEndpoint(32).maxTotal(64)
                    .leaseTimeout(Duration.ofSeconds(1))
                    .retirement(Retirement.local())
                    .build()); // the default port budget, detected in this namespace
            try {
                PortBudget budget = pool.portBudget().budget();
                result("budget", budget);
                result("budgetPerEndpoint", budget.perEndpoint());
                CountDownLatch go = new CountDownLatch(1);
                ExecutorService workers = Executors.newFixedThreadPool(threads);
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    futures.add(workers.submit(() -> {
                        go.await();
                        for (int i = 0; i < 1_000; i++) {
                            try (Lease<SocketChannel> l = pool.lease(endpoint)) {
                                exchange(l.connection(), i);
                                l.retire(); // a FIN from this host: a TIME_WAIT here
                                connections.incrementAndGet();
                            } catch (PortBudgetExhaustedException e) {
                                exhausted.incrementAndGet();
                                exhaustedMessage.compareAndSet("none", e.getMessage());
                                return null;
                            } catch (IOException | RuntimeException e) {
                                (isAddressNotAvailable(e) ? eaddrnotavail : otherErrors).incrementAndGet();
                                firstError.compareAndSet("none", String.valueOf(e).replace('\n', ' '));
                                return null;
                            }
                        }
                        return null;
                    }));
                }
                go.countDown();
                for (Future<?> f : futures) {
                    f.get(60, TimeUnit.SECONDS);
                }
                workers.shutdown();
                result("kernelTimeWait", KernelProbe.linux().snapshot().countToRemote(TcpState.TIME_WAIT, server));
            } finally {
                pool.close();
            }
        }
        result("connections", connections.get());
        result("exhausted", exhausted.get());
        result("exhaustedMessage", exhaustedMessage.get());
        result("eaddrnotavail", eaddrnotavail.get());
        result("otherErrors", otherErrors.get());
        result("firstError", firstError.get());
    }

    private static boolean isAddressNotAvailable(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof BindException || String.valueOf(c.getMessage()).contains("Cannot assign requested address")) {
                return true;
            }
        }
        return false;
    }

    /** Writes 4 bytes and reads their echo. */
    private static void exchange(SocketChannel channel, int n) throws IOException {
        ByteBuffer request = ByteBuffer.allocate(4).putInt(n).flip();
        while (request.hasRemaining()) {
            channel.write(request);
        }
        if (channel.socket().getInputStream().readNBytes(4).length != 4) {
            throw new IOException("no echo for " + n);
        }
    }
}
