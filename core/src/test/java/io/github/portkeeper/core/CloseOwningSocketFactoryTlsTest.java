package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
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
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * TLS layered over the factory's sockets, as clients do ({@code SSLSocketFactory.createSocket(socket,
 * host, port, true)}): the TLS close (close_notify, then a read for the peer's answer) is the
 * closing, not an exchange.
 */
class CloseOwningSocketFactoryTlsTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final char[] PASSWORD = "password".toCharArray();

    @Test
    void tlsCloseAnsweredByABareFinEndsPeerAndIsCreditedAsRetired() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("tls").listener(tally).build();
        SSLContext context = context();
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> serveOneRequestThenBareFin(listener, context));

            Socket plain = sockets.createSocket();
            plain.connect(new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort()));
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", listener.getLocalPort(), true);
            tls.setEnabledProtocols(new String[] {"TLSv1.3"});
            tls.setSoTimeout(5_000); // JSSE then reads for the server's answer to its close_notify
            OutputStream out = tls.getOutputStream();
            out.write("ping\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII)).readLine())
                    .isEqualTo("pong");
            tls.close();
            server.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(closed -> {
                assertThat(closed.ending()).isEqualTo(Ending.PEER);
                assertThat(closed.reason()).as("the connection served its request").isEqualTo(CloseReason.RETIRED);
            });
            assertThat(Kernel.clientTimeWait((InetSocketAddress) listener.getLocalSocketAddress())).isZero();
            assertThat(Kernel.clientCloseWait((InetSocketAddress) listener.getLocalSocketAddress())).isZero();
        }
    }

    @Test
    void tlsStartedAfterAPlainPreambleAsJdbcDriversDoIsStillRecognisedAtItsClose() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("starttls").listener(tally).build();
        SSLContext context = context();
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> {
                try {
                    Socket raw = listener.accept();
                    raw.setSoTimeout((int) WAIT.toMillis());
                    assertThat(raw.getInputStream().readNBytes(PREAMBLE.length)).isEqualTo(PREAMBLE);
                    raw.getOutputStream().write('S'); // PostgreSQL's yes to an SSLRequest
                    serveOneRequestThenBareFin(raw, context);
                } catch (java.io.IOException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });

            Socket plain = sockets.createSocket();
            plain.connect(new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort()));
            plain.setSoTimeout((int) WAIT.toMillis());
            plain.getOutputStream().write(PREAMBLE); // the connection's first write is no ClientHello
            assertThat(plain.getInputStream().read()).isEqualTo('S');
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", listener.getLocalPort(), true);
            tls.setEnabledProtocols(new String[] {"TLSv1.3"});
            tls.setSoTimeout(5_000);
            OutputStream out = tls.getOutputStream();
            out.write("ping\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII)).readLine())
                    .isEqualTo("pong");
            tls.close();
            server.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(closed -> {
                assertThat(closed.ending()).isEqualTo(Ending.PEER);
                assertThat(closed.reason()).as("the connection served its request").isEqualTo(CloseReason.RETIRED);
            });
        }
    }

    /** PostgreSQL's SSLRequest: length 8, code 80877103; TLS follows on the same connection. */
    private static final byte[] PREAMBLE = {0, 0, 0, 8, 0x04, (byte) 0xd2, 0x16, 0x2f};

    @Test
    void plainRequestEndedByShutdownOutputAndLeftUnansweredIsStillBroken() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("plain").listener(tally).build();
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                s.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
                s.shutdownOutput(); // no TLS below: the half-close ends a request, as TLS's does not
                assertThat(peer.getInputStream().readNBytes(5)).hasSize(5);
            } // the server closes without an answer
            s.setSoTimeout((int) WAIT.toMillis());
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            s.close();

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(closed ->
                    assertThat(closed.reason()).as("the request got no answer").isEqualTo(CloseReason.BROKEN));
        }
    }

    @Test
    void aLaterPlainRequestThatHappensToBeginLikeAClientHelloLeftUnansweredIsStillBroken() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("binary").listener(tally).build();
        // A binary protocol's packet can begin with 16 03 xx xx xx 01, as a ClientHello record
        // does (MySQL: a 790-byte COM_STMT_EXECUTE of statement 1, no flags, iteration count 1).
        byte[] second = {0x16, 0x03, 0x00, 0x00, 0x17, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            s.setSoTimeout((int) WAIT.toMillis());
            try (Socket peer = listener.accept()) {
                peer.setSoTimeout((int) WAIT.toMillis());
                s.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(peer.getInputStream().readNBytes(5)).hasSize(5);
                peer.getOutputStream().write("pong\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(s.getInputStream().readNBytes(5)).hasSize(5);

                s.getOutputStream().write(second);
                s.shutdownOutput();
                assertThat(peer.getInputStream().readNBytes(second.length)).hasSize(second.length);
            } // the server closes without an answer
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            s.close();

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(closed ->
                    assertThat(closed.reason()).as("the second request got no answer").isEqualTo(CloseReason.BROKEN));
        }
    }

    /**
     * Accepts one connection, layers a server-mode TLS 1.3 socket over it and answers one line,
     * then reads the client's closing alerts and closes the plain socket only: a bare FIN with no
     * close_notify of its own, as nginx does.
     */
    private static void serveOneRequestThenBareFin(ServerSocket listener, SSLContext context) {
        try {
            serveOneRequestThenBareFin(listener.accept(), context);
        } catch (java.io.IOException e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }

    /** As above, on a connection already accepted (and perhaps spoken on in plain text first); closes it. */
    private static void serveOneRequestThenBareFin(Socket accepted, SSLContext context) {
        try (Socket raw = accepted) {
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(raw, null, raw.getPort(), false);
            tls.setUseClientMode(false);
            tls.setEnabledProtocols(new String[] {"TLSv1.3"});
            tls.setSoTimeout((int) WAIT.toMillis());
            InputStream in = tls.getInputStream();
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            assertThat(reader.readLine()).isEqualTo("ping");
            OutputStream out = tls.getOutputStream();
            out.write("pong\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // Read past JSSE, which would answer with a close_notify of its own: the client's
            // closing alerts (TLS 1.3: user_canceled, then close_notify), all read so that the
            // close below is a FIN, not the kernel's RST for unread data.
            DataInputStream records = new DataInputStream(raw.getInputStream());
            for (int i = 0; i < 2; i++) {
                records.readUnsignedByte(); // content type: application_data, as TLS 1.3 hides the alert's
                records.readUnsignedShort(); // legacy version
                records.skipNBytes(records.readUnsignedShort());
            }
        } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }

    /**
     * A context with the test certificate (self-signed, for localhost and 127.0.0.1) as key and as
     * trust; shared with {@link CloseOwningSocketFactoryTlsHandshakeFailureTest}.
     */
    static SSLContext context() throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = CloseOwningSocketFactoryTlsTest.class.getResourceAsStream("/tls-test-keystore.p12")) {
            store.load(in, PASSWORD);
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, PASSWORD);
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), trust.getTrustManagers(), null);
        return context;
    }
}
