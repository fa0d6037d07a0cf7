package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.SilentServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SystemDefaultDnsResolver;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.io.CloseMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A request cancelled, or whose manager is closed with {@link CloseMode#IMMEDIATE}, while its
 * connection is still being made (host name resolution, TCP connect, TLS handshake) fails at
 * once, with an {@link IOException}, and leaves no socket open.
 *
 * <p>In the TLS handshake HttpClient's own manager does the same, and each such test runs it
 * beside ours. While the host name is being resolved it does not: the socket connected after the
 * cancel is bound to a connection the pool has already dropped, so it stays open (CLOSE_WAIT
 * once the server closes), and the request fails with HttpClient's
 * {@code IllegalStateException("Endpoint not acquired / already released")} (5.5.1 and 5.6).
 * Here nothing is connected after the cancel, and the request fails as a cancel that lands a
 * moment earlier does, with HttpClient's {@code RequestFailedException}. Nor does a cancel in the
 * TCP connect or the TLS handshake with one of a host's addresses (nor the manager's close) let
 * HttpClient go on to the next address.
 */
class CancelWhileConnectingTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Far below HttpClient's default connect timeout (3 minutes), which is also the handshake's. */
    private static final Duration PROMPTLY = Duration.ofSeconds(5);

    /** Resolves every name to the loopback address, once the test lets it go on. */
    private static final class HeldDns implements DnsResolver {
        final CountDownLatch resolving = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);

        @Override
        public InetAddress[] resolve(String host) throws UnknownHostException {
            resolving.countDown();
            try {
                proceed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new UnknownHostException(host);
            }
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
        }

        @Override
        public String resolveCanonicalHostname(String host) throws UnknownHostException {
            return SystemDefaultDnsResolver.INSTANCE.resolveCanonicalHostname(host);
        }
    }

    /** Runs {@code get} on another thread; completes with what it threw, or null if it did not. */
    private static CompletableFuture<Throwable> failureOf(CloseableHttpClient client, HttpGet get) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                client.execute(get, r -> EntityUtils.toString(r.getEntity()));
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
    }

    private CloseableHttpClient client(HttpClientConnectionManager manager) {
        return leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());
    }

    private PortkeeperConnectionManager ours(String name, HeldDns dns, TallyListener tally) {
        PortkeeperConnectionManagerBuilder b = PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build());
        if (dns != null) {
            b.setDnsResolver(dns);
        }
        return leaks.track(leaks.closeAfter(b.build()));
    }

    /**
     * The pool heard the connect abandoned, as it hears of any connect cut short by its caller:
     * the lease rejected, and no connection opened, failed or closed (a socket whose TCP
     * connection was up, in its TLS handshake, was reset: no TIME_WAIT to count); its slot is free.
     */
    private static void abandonedUnrecorded(PortkeeperConnectionManager manager, TallyListener tally) {
        await("the slot given back").atMost(PROMPTLY).until(() -> {
            io.github.portkeeper.core.PoolStats stats = manager.pool().stats();
            return stats.active() + stats.idle() + stats.draining() == 0;
        });
        assertThat(tally.opened()).as("connections opened").isZero();
        assertThat(tally.connectFailed()).as("connects failed").isZero();
        assertThat(tally.closedEvents()).as("connections closed").isEmpty();
    }

    /** Client sockets toward {@code server} that are still open: connected, or left by a server's close. */
    private static void awaitNoOpenClientSocket(InetSocketAddress server) {
        await("no open client socket toward " + server).atMost(PROMPTLY).pollInterval(Duration.ofMillis(10))
                .untilAsserted(() -> assertThat(Kernel.clientEstablished(server) + Kernel.clientCloseWait(server))
                        .as(() -> Kernel.describe(server)).isZero());
    }

    // ------------------------------------------------------------------ while resolving the host name

    /**
     * Starts a request to a host name the held resolver resolves, does {@code interrupt} while it
     * resolves, then lets it connect; returns what the request threw.
     */
    private Throwable interruptWhileResolving(HttpClientConnectionManager manager, HeldDns dns, ScriptedHttpServer server,
                                              Consumer<HttpGet> interrupt) throws Exception {
        HttpGet get = new HttpGet("http://portkeeper.test:" + server.port() + "/");
        CompletableFuture<Throwable> failure = failureOf(client(manager), get);
        assertThat(dns.resolving.await(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS)).as("resolving the host name").isTrue();
        interrupt.accept(get);
        dns.proceed.countDown();
        return failure.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void cancelWhileResolvingTheHostFailsWithAnIOExceptionWithoutConnecting() throws Exception {
        // The server closes a connection idle for 200 ms: a socket left open here turns CLOSE_WAIT.
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().closeIdleAfter(Duration.ofMillis(200)).start());
        leaks.track(server.address());
        HeldDns dns = new HeldDns();
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = ours("cancel-resolving", dns, tally);

        Throwable failure = interruptWhileResolving(manager, dns, server, HttpGet::cancel);

        assertThat(failure).as("what the request threw").isInstanceOf(IOException.class);
        assertThat(server.acceptedPorts()).as("connections made after the cancel").isEmpty();
        awaitNoOpenClientSocket(server.address());
        assertThat(server.requests()).isEmpty();
        abandonedUnrecorded(manager, tally);
    }

    @Test
    void closeImmediateWhileResolvingTheHostFailsTheRequestWithoutSendingIt() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().closeIdleAfter(Duration.ofMillis(200)).start());
        leaks.track(server.address());
        HeldDns dns = new HeldDns();
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = ours("close-resolving", dns, tally);

        Throwable failure = interruptWhileResolving(manager, dns, server, get -> manager.close(CloseMode.IMMEDIATE));

        assertThat(failure).as("what the request threw").isInstanceOf(IOException.class);
        assertThat(server.requests()).as("requests sent on a closed manager").isEmpty();
        awaitNoOpenClientSocket(server.address());
        abandonedUnrecorded(manager, tally);
    }

    // ------------------------------------------------------------------ in the TCP connect

    /** Resolves every name to {@code addresses}, in that order. */
    private record FixedDns(InetAddress... addresses) implements DnsResolver {
        @Override
        public InetAddress[] resolve(String host) {
            return addresses.clone();
        }

        @Override
        public String resolveCanonicalHostname(String host) {
            return host;
        }
    }

    /**
     * A listener on {@code address}:{@code port} whose accept queue is full: a connect to it gets
     * no answer to its SYN and hangs until its timeout. Filled by connecting until one connect
     * times out (Linux queues backlog + 1 connections; the rest of its SYNs are dropped).
     */
    private ServerSocket unanswering(InetAddress address, int port) throws IOException {
        ServerSocket listener = leaks.closeAfter(new ServerSocket(port, 1, address));
        for (int i = 0; i < 10; i++) {
            Socket filler = leaks.closeAfter(new Socket());
            try {
                filler.connect(listener.getLocalSocketAddress(), 500);
            } catch (SocketTimeoutException full) {
                return listener;
            }
        }
        throw new IllegalStateException("the accept queue of " + listener + " did not fill");
    }

    @Test
    void cancelInTheTcpConnectToTheFirstOfTwoAddressesFailsAtOnceWithoutConnectingToTheSecond() throws Exception {
        // The second address would answer, then never answer the ClientHello: reaching it, the
        // request would wait out the handshake timeout (the connect timeout: 3 minutes).
        SilentServer second = leaks.closeAfter(SilentServer.start());
        InetAddress firstAddress = InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
        InetSocketAddress first = new InetSocketAddress(firstAddress, second.port());
        unanswering(firstAddress, second.port());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("cancel-connect").listener(tally).build())
                .setDnsResolver(new FixedDns(firstAddress, InetAddress.getLoopbackAddress()))
                .build()));
        HttpGet get = new HttpGet("https://portkeeper.test:" + second.port() + "/");
        CompletableFuture<Throwable> failure = failureOf(client(manager), get);
        await("connecting to " + first).atMost(PROMPTLY).pollInterval(Duration.ofMillis(10))
                .until(() -> Kernel.toward(first, TcpState.SYN_SENT) == 1);

        long start = System.nanoTime();
        get.cancel();

        assertThat(failure.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS)).as("what the request threw").isInstanceOf(IOException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
        assertThat(second.acceptedCount()).as("connections made to the second address after the cancel").isZero();
        await().atMost(PROMPTLY).until(() -> Kernel.toward(first, TcpState.SYN_SENT) == 0);
        abandonedUnrecorded(manager, tally);
    }

    /**
     * Starts an https request to a host that resolves to two addresses, 127.0.0.2 then the
     * loopback address, each a server that accepts and never answers the ClientHello; does
     * {@code interrupt} once the first has accepted, and asserts that the request fails promptly
     * without connecting to the second address.
     */
    private void interruptInTheHandshakeWithTheFirstOfTwoAddresses(String name, Interrupt interrupt) throws Exception {
        SilentServer second = leaks.closeAfter(SilentServer.start());
        InetAddress firstAddress = InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
        SilentServer first = leaks.closeAfter(SilentServer.start(firstAddress, second.port()));
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build())
                .setDnsResolver(new FixedDns(firstAddress, InetAddress.getLoopbackAddress()))
                .build()));
        HttpGet get = new HttpGet("https://portkeeper.test:" + second.port() + "/");
        CompletableFuture<Throwable> failure = failureOf(client(manager), get);
        await("the first address accepting").atMost(PROMPTLY).until(() -> first.acceptedCount() == 1);

        long start = System.nanoTime();
        interrupt.accept(manager, get);

        assertThat(failure.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS)).as("what the request threw").isInstanceOf(IOException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
        assertThat(second.acceptedCount()).as("connections made to the second address after the interrupt").isZero();
        awaitNoOpenClientSocket(new InetSocketAddress(firstAddress, second.port()));
        awaitNoOpenClientSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), second.port()));
        abandonedUnrecorded(manager, tally);
    }

    /** What interrupts a request: a cancel, or the manager's close. */
    private interface Interrupt {
        void accept(PortkeeperConnectionManager manager, HttpGet get);
    }

    @Test
    void cancelInTheTlsHandshakeWithTheFirstOfTwoAddressesFailsAtOnceWithoutConnectingToTheSecond() throws Exception {
        interruptInTheHandshakeWithTheFirstOfTwoAddresses("cancel-handshake-first", (manager, get) -> get.cancel());
    }

    @Test
    void closeImmediateInTheTlsHandshakeWithTheFirstOfTwoAddressesFailsAtOnceWithoutConnectingToTheSecond() throws Exception {
        interruptInTheHandshakeWithTheFirstOfTwoAddresses("close-handshake-first",
                (manager, get) -> manager.close(CloseMode.IMMEDIATE));
    }

    // ------------------------------------------------------------------ in the TLS handshake

    /**
     * Starts an https request to a server that accepts and never answers the ClientHello, does
     * {@code interrupt} once the server has accepted, and asserts that the request fails promptly
     * and that no socket toward the server is left open.
     */
    private void interruptInTheHandshake(HttpClientConnectionManager manager, Consumer<HttpGet> interrupt) throws Exception {
        SilentServer silent = leaks.closeAfter(SilentServer.start());
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), silent.port());
        HttpGet get = new HttpGet("https://127.0.0.1:" + silent.port() + "/");
        CompletableFuture<Throwable> failure = failureOf(client(manager), get);
        await().atMost(PROMPTLY).until(() -> silent.acceptedCount() == 1);

        long start = System.nanoTime();
        interrupt.accept(get);
        assertThat(failure.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS)).as("what the request threw").isInstanceOf(IOException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
        awaitNoOpenClientSocket(address); // the silent server never closes: an open socket stays ESTABLISHED
    }

    @Test
    void closeImmediateFailsARequestInItsTlsHandshakeAtOnceAsHttpClientsOwnManagerDoes() throws Exception {
        PoolingHttpClientConnectionManager stock = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create().build());
        interruptInTheHandshake(stock, get -> stock.close(CloseMode.IMMEDIATE));

        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = ours("close-handshake", null, tally);
        interruptInTheHandshake(manager, get -> manager.close(CloseMode.IMMEDIATE));
        abandonedUnrecorded(manager, tally);
    }

    @Test
    void cancelFailsARequestInItsTlsHandshakeAtOnceAsHttpClientsOwnManagerDoes() throws Exception {
        interruptInTheHandshake(leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create().build()), HttpGet::cancel);

        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = ours("cancel-handshake", null, tally);
        interruptInTheHandshake(manager, HttpGet::cancel);
        abandonedUnrecorded(manager, tally);
    }
}
