package io.github.portkeeper.core.netns;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jdk.net.ExtendedSocketOptions;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/**
 * The two children of {@link KeepaliveAbortTest}. Not a test itself.
 *
 * <ul>
 *   <li>{@code server <address>}, in the server's namespace: a {@link ScriptedServer} on
 *       {@code address}; prints {@code RESULT port=<port>} and serves until its standard input
 *       ends.</li>
 *   <li>{@code client <address> <port> <ip> <serverNamespace> <serverDevice>}, in the client's
 *       namespace: leases {@value #CONNECTIONS} connections with TCP keepalive (idle 1 s,
 *       interval 1 s, 2 probes), exchanges once on each and leaves them idle in the pool; then
 *       deletes the server's address so the path silently drops every packet (nothing answers,
 *       nothing resets), waits until the kernel has aborted every connection, and prints the
 *       pool's endings, what it learned and the kernel's view, one {@code RESULT key=value} a
 *       line.</li>
 * </ul>
 * Exits 0, or 2 with a stack trace.
 */
public final class KeepaliveAbortWorkload {

    static final String RESULT_PREFIX = "RESULT ";
    static final int CONNECTIONS = 8;
    private static final Duration WAIT = Duration.ofSeconds(20);

    private KeepaliveAbortWorkload() {
    }

    public static void main(String[] args) {
        try {
            if (args[0].equals("server")) {
                server(args[1]);
            } else {
                client(args[1], Integer.parseInt(args[2]), args[3], args[4], args[5]);
            }
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.flush();
            System.exit(2);
        }
    }

    private static void server(String address) throws Exception {
        ScriptedServer server = ScriptedServer.builder().bindAddress(InetAddress.getByName(address)).start();
        print("port", String.valueOf(server.port()));
        System.out.flush();
        // Serves until the test closes this process's standard input (or kills it).
        while (System.in.read() >= 0) {
            // nothing to read but the end
        }
    }

    private static void client(String address, int port, String ip, String serverNs, String serverDevice) throws Exception {
        TallyListener tally = new TallyListener();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Endpoint endpoint = Endpoint.of(address, port);
        InetSocketAddress remote = new InetSocketAddress(InetAddress.getByName(address), port);
        try (Pool<SocketChannel> pool = Pool.of(new KeepaliveConnector(), PoolConfig.builder().name("keepalive")
                .maxPerEndpoint(CONNECTIONS).maxIdleTime(Duration.ofMinutes(5)).leaseTimeout(WAIT).listener(tally).build())) {
            PoolMetrics.builder(pool).build().bindTo(registry);
            List<Lease<SocketChannel>> held = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                held.add(pool.lease(endpoint));
            }
            for (int i = 0; i < CONNECTIONS; i++) {
                if (ScriptedServer.exchange(held.get(i).connection(), i) != i + 1) {
                    throw new AssertionError("wrong answer on connection " + i);
                }
                held.get(i).close();
            }
            print("idleBeforeCut", String.valueOf(pool.stats().idle()));
            print("establishedBeforeCut", String.valueOf(KernelProbe.linux().snapshot().countToRemote(TcpState.ESTABLISHED, remote)));

            // Cut the path: the server's address goes away, so its namespace drops what arrives
            // for it without a word. Only the client's keepalive can find out.
            long cutAt = System.nanoTime();
            Process cut = new ProcessBuilder(ip, "netns", "exec", serverNs, ip, "addr", "del", address + "/24", "dev", serverDevice)
                    .redirectErrorStream(true).start();
            if (!cut.waitFor(15, TimeUnit.SECONDS) || cut.exitValue() != 0) {
                throw new IllegalStateException("could not delete the server's address: " + new String(cut.getInputStream().readAllBytes()));
            }

            await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> tally.closedTotal() >= CONNECTIONS);
            print("abortMillis", String.valueOf((System.nanoTime() - cutAt) / 1_000_000));
            for (Ending e : Ending.values()) {
                print("ending." + e.name().toLowerCase(java.util.Locale.ROOT), String.valueOf(tally.closed(e)));
            }
            print("reasons", tally.closedEvents().stream().map(c -> c.reason().name()).distinct().sorted().toList().toString().replace(' ', '_'));
            print("closedByAborted", String.valueOf((long) registry.find("portkeeper.connections.closed").tag("closed.by", "aborted")
                    .counters().stream().mapToDouble(Counter::count).sum()));
            print("timewaitCaused", String.valueOf((long) registry.find("portkeeper.timewait.caused").counters().stream()
                    .mapToDouble(Counter::count).sum()));
            print("learnedIdleTimeout", pool.serverIdleTimeout(endpoint).map(Duration::toString).orElse("none"));
        }
        SocketTable table = KernelProbe.linux().snapshot();
        int left = 0;
        for (TcpState state : TcpState.values()) {
            if (state != TcpState.TIME_WAIT && state != TcpState.LISTEN) {
                left += table.countToRemote(state, remote);
            }
        }
        print("kernelTimeWait", String.valueOf(table.countToRemote(TcpState.TIME_WAIT, remote)));
        print("kernelOtherSockets", String.valueOf(left));
    }

    /** A user's connector that turns on TCP keepalive with short timers (Linux: ExtendedSocketOptions). */
    private static final class KeepaliveConnector implements Connector<SocketChannel> {
        @Override
        public SocketChannel connect(Endpoint endpoint) throws IOException {
            SocketChannel ch = SocketChannel.open();
            try {
                ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
                ch.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, 1);
                ch.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, 1);
                ch.setOption(ExtendedSocketOptions.TCP_KEEPCOUNT, 2);
                ch.connect(new InetSocketAddress(endpoint.host(), endpoint.port()));
                return ch;
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        }

        @Override
        public SocketChannel channel(SocketChannel connection) {
            return connection;
        }
    }

    private static void print(String key, String value) {
        System.out.println(RESULT_PREFIX + key + "=" + value);
    }
}
