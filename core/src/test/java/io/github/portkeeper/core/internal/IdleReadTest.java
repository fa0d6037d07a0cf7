package io.github.portkeeper.core.internal;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the one classifier makes of crafted bytes on an idle connection: which TLS records can be
 * a server's close_notify (its idle close, learned from) and which cannot (a KeyUpdate, a late
 * NewSessionTicket: bytes out of step, learned from never).
 */
class IdleReadTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private ServerSocketChannel listener;
    private SocketChannel client;
    private SocketChannel server;

    @AfterEach
    void close() throws IOException {
        for (java.io.Closeable c : new java.io.Closeable[] {client, server, listener}) {
            if (c != null) {
                c.close();
            }
        }
    }

    /** A TLS record header (version 3.3) and {@code length} bytes of body. */
    private static byte[] record(int type, int length) {
        byte[] bytes = new byte[5 + length];
        bytes[0] = (byte) type;
        bytes[1] = 3;
        bytes[2] = 3;
        bytes[3] = (byte) (length >>> 8);
        bytes[4] = (byte) length;
        for (int i = 5; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31);
        }
        return bytes;
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer all = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            all.put(p);
        }
        return all.array();
    }

    private static boolean closeNotice(byte[] bytes) {
        return IdleRead.looksLikeTlsCloseNotice(ByteBuffer.wrap(bytes), bytes.length);
    }

    @Test
    void anAlertRecordOfAnyLengthCanBeACloseNotify() {
        assertThat(closeNotice(record(0x15, 2))).as("TLS 1.2 and earlier, plaintext").isTrue();
        assertThat(closeNotice(record(0x15, 26))).as("TLS 1.2, AES-GCM").isTrue();
        assertThat(closeNotice(record(0x15, 48))).as("TLS 1.2, CBC").isTrue();
    }

    @Test
    void aTls13RecordOfAnEncryptedAlertsLengthCanBeACloseNotify() {
        assertThat(closeNotice(record(0x17, 19))).as("alert, content type, 16-byte tag").isTrue();
        assertThat(closeNotice(record(0x17, 35))).as("the same padded with 16 zeros, as the JDK sends it").isTrue();
    }

    @Test
    void aTls13KeyUpdateOrNewSessionTicketCannotBeACloseNotify() {
        assertThat(closeNotice(record(0x17, 22))).as("KeyUpdate, unpadded").isFalse();
        assertThat(closeNotice(record(0x17, 38))).as("KeyUpdate, as the JDK pads it").isFalse();
        assertThat(closeNotice(record(0x17, 250))).as("NewSessionTicket").isFalse();
        assertThat(closeNotice(record(0x17, 18))).isFalse();
        assertThat(closeNotice(record(0x17, 20))).isFalse();
    }

    @Test
    void onlyTheLastOfSeveralRecordsDecides() {
        assertThat(closeNotice(concat(record(0x17, 250), record(0x17, 19))))
                .as("a ticket, then the close_notify").isTrue();
        assertThat(closeNotice(concat(record(0x17, 19), record(0x17, 38))))
                .as("nothing follows a close_notify").isFalse();
    }

    @Test
    void aRecordCutShortByTheReadIsJudgedByItsHeader() {
        byte[] notice = record(0x17, 35);
        assertThat(IdleRead.looksLikeTlsCloseNotice(ByteBuffer.wrap(notice), 20)).isTrue();
        byte[] update = record(0x17, 38);
        assertThat(IdleRead.looksLikeTlsCloseNotice(ByteBuffer.wrap(update), 20)).isFalse();
        assertThat(IdleRead.looksLikeTlsCloseNotice(ByteBuffer.wrap(notice), 3)).as("a header cut short").isFalse();
    }

    @Test
    void bytesThatAreNoTlsRecordsAreNoCloseNotice() {
        byte[] http = "HTTP/1.1 408 Request Timeout\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(closeNotice(http)).isFalse();
        byte[] handshake = record(0x16, 19);
        assertThat(closeNotice(handshake)).isFalse();
        byte[] sslv2 = record(0x15, 19);
        sslv2[1] = 2;
        assertThat(closeNotice(sslv2)).isFalse();
        assertThat(closeNotice(record(0x15, 0))).as("an empty record").isFalse();
    }

    // ------------------------------------------------------------------ over a real socket

    private IdleRead classifyAfterPeerSent(byte[] bytes) throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client = SocketChannel.open(listener.getLocalAddress());
        server = listener.accept();
        server.write(ByteBuffer.wrap(bytes));
        client.configureBlocking(false);
        IdleRead[] read = new IdleRead[1];
        await().atMost(WAIT).until(() -> (read[0] = IdleRead.classify(client)) != IdleRead.NOTHING);
        return read[0];
    }

    @Test
    void aTls13CloseNotifyWithoutItsFinIsACloseNotice() throws IOException {
        assertThat(classifyAfterPeerSent(record(0x17, 35))).isEqualTo(IdleRead.TLS_CLOSE_NOTICE);
    }

    @Test
    void aTls13KeyUpdateIsBytesOutOfStep() throws IOException {
        assertThat(classifyAfterPeerSent(record(0x17, 38))).isEqualTo(IdleRead.BYTES);
    }
}
