package io.github.portkeeper.core;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * A TLS handshake that fails over a factory socket, with TLS layered on top as OkHttp and the
 * Jedis recipe do ({@code createSocket(socket, host, port, true)}): the connection served nothing,
 * so it is closed as broken and credits no avoided TIME_WAIT, whatever the ciphertext it carried;
 * its ending is what happened on the wire, and {@code timewait.caused} is the kernel's count.
 *
 * <p>The JDK's TLS socket ends a failed handshake by sending its alert (or not, if it received
 * one) and closing the socket under it at once, without the close_notify and the
 * {@code shutdownOutput()} of a TLS close.
 */
class CloseOwningSocketFactoryTlsHandshakeFailureTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void handshakeTheClientAbortsOverAnUntrustedCertificateIsBrokenAndEndsByTheServersClose(String protocol) throws Exception {
        SSLContext server = CloseOwningSocketFactoryTlsTest.context();
        ServerSocket listener = FreshPort.bind(() -> server.getServerSocketFactory().createServerSocket(0, 50, LOOPBACK),
                ServerSocket::getLocalPort, ServerSocket::close);
        Outcome o = handshake(listener, protocol, defaultTrustOnly(), accepted -> {
            SSLSocket tls = (SSLSocket) accepted;
            tls.setEnabledProtocols(new String[] {protocol});
            // The client's alert fails the server's handshake; the JDK server then closes: a FIN.
            assertThat(catchThrowable(tls::startHandshake)).isInstanceOf(SSLHandshakeException.class)
                    .hasMessageContaining("certificate_unknown");
        });

        assertThat(o.clientSaw).isInstanceOf(SSLHandshakeException.class);
        o.assertEnded(Ending.PEER, "the server closed after the client's alert");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void handshakeAnsweredWithPlainHttpIsBrokenAndEndsByTheServersClose(String protocol) throws Exception {
        Outcome o = handshake(FreshPort.listen(LOOPBACK, 50), protocol, CloseOwningSocketFactoryTlsTest.context(), accepted -> {
            readClientHello(accepted);
            // An HTTP server on the port: it answers the ClientHello as a bad request and closes.
            accepted.getOutputStream().write(("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
        });

        assertThat(o.clientSaw).isInstanceOf(SSLException.class).hasMessageContaining("Unsupported or unrecognized SSL message");
        o.assertEnded(Ending.PEER, "the server closed after its answer");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void handshakeTheServerClosesInTheMiddleOfItsFirstRecordIsBrokenAndEndsPeer(String protocol) throws Exception {
        Outcome o = handshake(FreshPort.listen(LOOPBACK, 50), protocol, CloseOwningSocketFactoryTlsTest.context(), accepted -> {
            readClientHello(accepted);
            // A handshake record of 100 bytes, cut short after the start of a ServerHello: a FIN.
            accepted.getOutputStream().write(new byte[] {22, 3, 3, 0, 100, 2, 0, 0, 96, 3, 3});
        });

        assertThat(o.clientSaw).isInstanceOf(SSLHandshakeException.class).hasMessageContaining("Remote host terminated the handshake");
        o.assertEnded(Ending.PEER, "the server's FIN came first");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void handshakeTheServerClosesBeforeAnsweringIsBrokenAndEndsPeer(String protocol) throws Exception {
        Outcome o = handshake(FreshPort.listen(LOOPBACK, 50), protocol, CloseOwningSocketFactoryTlsTest.context(),
                CloseOwningSocketFactoryTlsHandshakeFailureTest::readClientHello);

        assertThat(o.clientSaw).isInstanceOf(SSLHandshakeException.class).hasMessageContaining("Remote host terminated the handshake");
        o.assertEnded(Ending.PEER, "the server's FIN came first");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void handshakeTheServerResetsIsBrokenAndEndsAborted(String protocol) throws Exception {
        Outcome o = handshake(FreshPort.listen(LOOPBACK, 50), protocol, CloseOwningSocketFactoryTlsTest.context(), accepted -> {
            readClientHello(accepted);
            accepted.setSoLinger(true, 0);
        });

        assertThat(o.clientSaw).isInstanceOf(SocketException.class).hasMessageContaining("Connection reset");
        o.assertEnded(Ending.ABORTED, "the server reset it");
    }

    /**
     * The JDK's TLS 1.2 answers a server's close_notify with its own from inside the read that met
     * it, without a {@code shutdownOutput()}; the client's close is still a TLS close, not a failure.
     */
    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void servedTlsConnectionTheServerClosesWithCloseNotifyFirstIsStillCreditedAsRetired(String protocol) throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("served-" + protocol).listener(tally).build();
        PoolMetrics metrics = PoolMetrics.of(sockets);
        metrics.bindTo(new SimpleMeterRegistry());
        SSLContext context = CloseOwningSocketFactoryTlsTest.context();
        try (ServerSocket listener = FreshPort.listen(LOOPBACK, 50)) {
            InetSocketAddress address = (InetSocketAddress) listener.getLocalSocketAddress();
            TimeWaitCount timeWait = TimeWaitCount.toward(address);
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try (Socket raw = listener.accept()) {
                    raw.setSoTimeout((int) WAIT.toMillis());
                    SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(raw, null, raw.getPort(), false);
                    tls.setUseClientMode(false);
                    tls.setEnabledProtocols(new String[] {protocol});
                    assertThat(new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII)).readLine())
                            .isEqualTo("ping");
                    tls.getOutputStream().write("pong\n".getBytes(StandardCharsets.US_ASCII));
                    tls.getOutputStream().flush();
                    tls.shutdownOutput(); // the server's close_notify, the plain socket left open
                    // Up to the client's close_notify (TLS 1.2: its answer; TLS 1.3: its close),
                    // so the FIN that follows leaves nothing unread.
                    assertThat(tls.getInputStream().read()).isEqualTo(-1);
                } catch (Exception e) {
                    throw new CompletionException(e);
                } // then its FIN, with nothing left unread
            });

            Socket plain = sockets.createSocket();
            plain.connect(address);
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", address.getPort(), true);
            tls.setEnabledProtocols(new String[] {protocol});
            tls.setSoTimeout((int) WAIT.toMillis());
            OutputStream out = tls.getOutputStream();
            out.write("ping\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = tls.getInputStream();
            assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("pong\n");
            assertThat(in.read()).as("the server's close_notify").isEqualTo(-1);
            tls.close();
            server.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(closed -> {
                assertThat(closed.ending()).isEqualTo(Ending.PEER);
                assertThat(closed.reason()).as("the connection served its request").isEqualTo(CloseReason.RETIRED);
            });
            assertThat(metrics.timeWaitAvoided()).isEqualTo(1);
            assertThat(timeWait.newSince()).as("client TIME_WAIT; %s", Kernel.describe(address)).isZero();
        }
    }

    /** Not a handshake, but failed the same way: JSSE's fatal alert, then the socket under it closed. */
    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void tlsConnectionThatMeetsACorruptRecordAfterItsAnswerIsBroken(String protocol) throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("corrupt-" + protocol).listener(tally).build();
        PoolMetrics metrics = PoolMetrics.of(sockets);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        metrics.bindTo(registry);
        SSLContext context = CloseOwningSocketFactoryTlsTest.context();
        try (ServerSocket listener = FreshPort.listen(LOOPBACK, 50)) {
            InetSocketAddress address = (InetSocketAddress) listener.getLocalSocketAddress();
            TimeWaitCount timeWait = TimeWaitCount.toward(address);
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try (Socket raw = listener.accept()) {
                    raw.setSoTimeout((int) WAIT.toMillis());
                    SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(raw, null, raw.getPort(), false);
                    tls.setUseClientMode(false);
                    tls.setEnabledProtocols(new String[] {protocol});
                    assertThat(new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII)).readLine())
                            .isEqualTo("ping");
                    tls.getOutputStream().write("pong\n".getBytes(StandardCharsets.US_ASCII));
                    tls.getOutputStream().flush();
                    byte[] corrupt = new byte[5 + 32];
                    corrupt[0] = 23; // application_data whose authentication tag cannot match
                    corrupt[1] = 3;
                    corrupt[2] = 3;
                    corrupt[4] = 32;
                    raw.getOutputStream().write(corrupt);
                    skipRecord(raw.getInputStream()); // the client's fatal alert; then a FIN
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });

            Socket plain = sockets.createSocket();
            plain.connect(address);
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", address.getPort(), true);
            tls.setEnabledProtocols(new String[] {protocol});
            tls.setSoTimeout((int) WAIT.toMillis());
            tls.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
            tls.getOutputStream().flush();
            InputStream in = tls.getInputStream();
            assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("pong\n");
            Throwable thrown = catchThrowable(in::read);
            tls.close();
            server.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(thrown).isInstanceOf(SSLException.class);
            new Outcome(thrown, tally, metrics, registry, timeWait, address).assertEnded(Ending.PEER, "the server closed after the alert");
        }
    }

    /** What the server does with the one connection it accepts; it is closed after. */
    @FunctionalInterface
    private interface Script {
        void serve(Socket accepted) throws Exception;
    }

    /** How one failed handshake ended, as the client, the listeners, the meters and the kernel saw it. */
    private static final class Outcome {
        final Throwable clientSaw;
        final TallyListener tally;
        final PoolMetrics metrics;
        final SimpleMeterRegistry registry;
        final TimeWaitCount timeWait;
        final InetSocketAddress server;

        Outcome(Throwable clientSaw, TallyListener tally, PoolMetrics metrics, SimpleMeterRegistry registry,
                TimeWaitCount timeWait, InetSocketAddress server) {
            this.clientSaw = clientSaw;
            this.tally = tally;
            this.metrics = metrics;
            this.registry = registry;
            this.timeWait = timeWait;
            this.server = server;
        }

        /** Ended as {@code ending}, as broken, nothing avoided, and no TIME_WAIT the meters do not count. */
        void assertEnded(Ending ending, String why) {
            assertThat(tally.closedEvents()).singleElement().satisfies(closed -> {
                assertThat(closed.ending()).as(why).isEqualTo(ending);
                assertThat(closed.reason()).as("the TLS connection failed: it served nothing").isEqualTo(CloseReason.BROKEN);
            });
            assertThat(registry.get("portkeeper.connections.closed").tag("closed.by", ending.name().toLowerCase(java.util.Locale.ROOT))
                    .counter().count()).isEqualTo(1.0);
            assertThat(metrics.timeWaitAvoided()).as("timewait.avoided").isZero();
            assertThat(metrics.timeWaitCaused()).as("timewait.caused").isZero();
            assertThat(timeWait.newSince()).as("kernel client TIME_WAIT = timewait.caused; %s", Kernel.describe(server))
                    .isEqualTo(metrics.timeWaitCaused());
            assertThat(Kernel.clientCloseWait(server)).isZero();
        }
    }

    /**
     * Connects a factory socket to {@code listener} (closed after), layers a client TLS socket of
     * {@code client}'s over it limited to {@code protocol}, runs the handshake while the server
     * runs {@code script} on the accepted connection, closes the TLS socket as OkHttp does after a
     * failed handshake, and waits for the factory to report the socket's end.
     */
    private static Outcome handshake(ServerSocket listener, String protocol, SSLContext client, Script script) throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("handshake-" + protocol).listener(tally).build();
        PoolMetrics metrics = PoolMetrics.of(sockets);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        metrics.bindTo(registry);
        try (listener) {
            InetSocketAddress address = (InetSocketAddress) listener.getLocalSocketAddress();
            TimeWaitCount timeWait = TimeWaitCount.toward(address);
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try (Socket accepted = listener.accept()) {
                    accepted.setSoTimeout((int) WAIT.toMillis());
                    script.serve(accepted);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });

            Socket plain = sockets.createSocket();
            plain.connect(address);
            plain.setSoTimeout((int) WAIT.toMillis());
            SSLSocket tls = (SSLSocket) client.getSocketFactory().createSocket(plain, "localhost", address.getPort(), true);
            tls.setEnabledProtocols(new String[] {protocol});
            Throwable thrown = catchThrowable(tls::startHandshake);
            tls.close();
            server.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            return new Outcome(thrown, tally, metrics, registry, timeWait, address);
        }
    }

    /** Reads the client's first TLS record, its ClientHello, whole, so a close after leaves nothing unread. */
    private static void readClientHello(Socket accepted) throws Exception {
        skipRecord(accepted.getInputStream());
    }

    private static void skipRecord(InputStream in) throws Exception {
        DataInputStream records = new DataInputStream(in);
        records.readUnsignedByte(); // content type
        records.readUnsignedShort(); // legacy version
        records.skipNBytes(records.readUnsignedShort());
    }

    /** The JDK's default trust (its cacerts), in which the test's self-signed certificate is not. */
    private static SSLContext defaultTrustOnly() throws Exception {
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init((KeyStore) null);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }
}
