package io.github.portkeeper.core;

import static io.github.portkeeper.core.TcpState.CLOSE_WAIT;
import static io.github.portkeeper.core.TcpState.ESTABLISHED;
import static io.github.portkeeper.core.TcpState.FIN_WAIT2;
import static io.github.portkeeper.core.TcpState.LISTEN;
import static io.github.portkeeper.core.TcpState.TIME_WAIT;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelProbeTest {

    private static final int CLIENTS = 5;
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    // ---- tables written by the test, in this host's byte order ----

    @Test
    void snapshotCountsIpv4Ipv6AndIpv4MappedEntriesOfBothFiles() throws IOException {
        InetSocketAddress server = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8080);
        InetSocketAddress server6 = new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 443);
        InetSocketAddress other = new InetSocketAddress(InetAddress.getByName("10.0.0.7"), 8080);
        KernelProbe probe = probeOf(
                List.of(entry("127.0.0.1", 50_000, server, TIME_WAIT),
                        entry("127.0.0.1", 50_001, server, TIME_WAIT),
                        entry("127.0.0.1", 50_002, other, TIME_WAIT),
                        entry("0.0.0.0", 8080, new InetSocketAddress(InetAddress.getByName("0.0.0.0"), 0), LISTEN)),
                List.of(entry("::ffff:127.0.0.1", 50_003, server, TIME_WAIT),
                        entry("::ffff:127.0.0.1", 8080, mapped("127.0.0.1", 50_004), ESTABLISHED),
                        entry("2001:db8::2", 50_005, server6, CLOSE_WAIT)));

        SocketTable table = probe.snapshot();

        assertThat(probe.isAvailable()).isTrue();
        assertThat(table.size()).isEqualTo(7);
        assertThat(table.countToRemote(TIME_WAIT, server)).as("tcp and mapped tcp6 entries").isEqualTo(3);
        assertThat(table.countToRemote(TIME_WAIT, mapped("127.0.0.1", 8080)))
                .as("an IPv4-mapped query matches IPv4 entries").isEqualTo(3);
        assertThat(table.countToRemote(CLOSE_WAIT, server6)).isEqualTo(1);
        assertThat(table.countToRemote(CLOSE_WAIT, server)).isZero();
        assertThat(table.countToRemotes(TIME_WAIT, List.of(server, other, server, server6)))
                .as("each socket counted once").isEqualTo(4);
        assertThat(table.countToRemotes(CLOSE_WAIT, List.of(server6, other))).isEqualTo(1);
        assertThat(table.countToRemotes(TIME_WAIT, List.of())).isZero();
        assertThat(table.localPortsToRemote(TIME_WAIT, server)).as("one local port per socket, tcp and mapped tcp6")
                .containsExactly(50_000, 50_001, 50_003);
        assertThat(table.localPortsToRemote(CLOSE_WAIT, server6)).containsExactly(50_005);
        assertThat(table.localPortsToRemote(CLOSE_WAIT, server)).isEmpty();
        assertThat(table.countOnLocalPort(LISTEN, 8080)).isEqualTo(1);
        assertThat(table.countOnLocalPort(ESTABLISHED, 8080)).as("listener not counted").isEqualTo(1);
        assertThat(table.countsByState())
                .containsEntry(TIME_WAIT, 4).containsEntry(LISTEN, 1).containsEntry(ESTABLISHED, 1)
                .containsEntry(CLOSE_WAIT, 1).containsEntry(FIN_WAIT2, 0)
                .hasSize(TcpState.values().length);
        assertThat(table.toString()).contains("size=7", "TIME_WAIT=4").doesNotContain("FIN_WAIT2");
    }

    @Test
    void unreadBytesAreTheReceiveQueueLessTheOneTheKernelCountsForThePeersFin() throws IOException {
        InetSocketAddress server = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8080);
        InetSocketAddress server6 = new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 443);
        SocketTable table = probeOf(
                List.of(entry("127.0.0.1", 50_000, server, ESTABLISHED, 5),
                        entry("127.0.0.1", 50_001, server, CLOSE_WAIT, 1),
                        entry("127.0.0.1", 50_002, server, CLOSE_WAIT, 6),
                        entry("127.0.0.1", 50_003, server, TcpState.LAST_ACK, 1),
                        entry("127.0.0.1", 50_004, server, TcpState.CLOSING, 3)),
                List.of(entry("::ffff:127.0.0.1", 50_005, server, FIN_WAIT2, 7),
                        entry("2001:db8::2", 50_006, server6, ESTABLISHED, 0x1_0000))).snapshot();

        assertThat(table.unreadBytes(local(50_000), server)).hasValue(5);
        assertThat(table.unreadBytes(local(50_001), server)).as("CLOSE_WAIT, only the FIN").hasValue(0);
        assertThat(table.unreadBytes(local(50_002), server)).as("CLOSE_WAIT, 5 bytes and the FIN").hasValue(5);
        assertThat(table.unreadBytes(local(50_003), server)).as("LAST_ACK, only the FIN").hasValue(0);
        assertThat(table.unreadBytes(local(50_004), server)).as("CLOSING, 2 bytes and the FIN").hasValue(2);
        assertThat(table.unreadBytes(mapped("127.0.0.1", 50_005), server)).as("a mapped tcp6 entry, no FIN yet").hasValue(7);
        assertThat(table.unreadBytes(mapped("127.0.0.1", 50_005), mapped("127.0.0.1", 8080))).hasValue(7);
        assertThat(table.unreadBytes(local6(50_006), server6)).hasValue(0x1_0000);
        assertThat(table.unreadBytes(local(50_007), server)).as("no such socket").isEmpty();
        assertThat(table.unreadBytes(local(50_000), server6)).as("another remote").isEmpty();
        assertThat(table.unreadBytes(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 50_000), server))
                .as("another local address, the same port").isEmpty();
        assertThatThrownBy(() -> table.unreadBytes(InetSocketAddress.createUnresolved("db.example", 50_000), server))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("local address must be resolved, but was unresolved: db.example/<unresolved>:50000");
    }

    @Test
    void unresolvedAddressIsRejectedByName() throws IOException {
        SocketTable table = probeOf(List.of(), List.of()).snapshot();
        InetSocketAddress unresolved = InetSocketAddress.createUnresolved("db.example", 5432);

        assertThatThrownBy(() -> table.countToRemote(TIME_WAIT, unresolved))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("db.example");
        assertThatThrownBy(() -> table.countToRemotes(TIME_WAIT, List.of(unresolved)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("db.example");
        assertThatThrownBy(() -> table.countOnLocalPort(LISTEN, 65_536))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("65536");
    }

    @Test
    void probeWithoutFilesIsUnavailableAndRefusesSnapshots() {
        KernelProbe probe = KernelProbe.reading(dir.resolve("tcp"), dir.resolve("tcp6"));

        assertThat(probe.isAvailable()).isFalse();
        assertThatThrownBy(probe::snapshot)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("unavailable").hasMessageContaining(dir.resolve("tcp").toString());
    }

    @Test
    void missingTcp6FileCountsAsAnEmptyTable() throws IOException {
        Path tcp = Files.writeString(dir.resolve("tcp"),
                header() + entry("127.0.0.1", 50_000, new InetSocketAddress("127.0.0.1", 80), TIME_WAIT));
        KernelProbe probe = KernelProbe.reading(tcp, dir.resolve("tcp6"));

        assertThat(probe.isAvailable()).isTrue();
        assertThat(probe.snapshot().countToRemote(TIME_WAIT, new InetSocketAddress("127.0.0.1", 80)))
                .isEqualTo(1);
    }

    @Test
    void fileThatExistsButCannotBeReadFailsTheSnapshot() throws IOException {
        Path directory = Files.createDirectory(dir.resolve("tcp"));
        KernelProbe probe = KernelProbe.reading(directory, dir.resolve("tcp6"));

        assertThat(probe.isAvailable()).isTrue();
        assertThatThrownBy(probe::snapshot)
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining(directory.toString());
    }

    // ---- the real kernel ----

    @Test
    void kernelShowsClientTimeWaitWhenClientsCloseFirst() throws IOException {
        KernelProbe probe = linuxProbe();
        try (Loopback loopback = Loopback.open(InetAddress.getByName("127.0.0.1"))) {
            InetSocketAddress server = loopback.address();
            int port = server.getPort();
            await().atMost(WAIT).untilAsserted(() -> {
                SocketTable table = probe.snapshot();
                assertThat(table.countToRemote(ESTABLISHED, server)).as("%s", table).isEqualTo(CLIENTS);
                assertThat(table.countOnLocalPort(ESTABLISHED, port)).as("%s", table).isEqualTo(CLIENTS);
                assertThat(table.countOnLocalPort(LISTEN, port)).as("%s", table).isEqualTo(1);
            });

            loopback.closeClients(); // clients send the first FIN: they are the active closers
            loopback.readEndOfStreamAndCloseAccepted();

            await().atMost(WAIT).untilAsserted(() -> {
                SocketTable table = probe.snapshot();
                assertThat(table.countToRemote(TIME_WAIT, server)).as("%s", table).isEqualTo(CLIENTS);
                assertThat(table.countToRemote(CLOSE_WAIT, server)).as("%s", table).isZero();
                assertThat(table.countOnLocalPort(CLOSE_WAIT, port)).as("%s", table).isZero();
            });
        }
    }

    @Test
    void kernelShowsClientCloseWaitWhenServerClosesFirstAndNoClientTimeWaitAfter() throws IOException {
        KernelProbe probe = linuxProbe();
        try (Loopback loopback = Loopback.open(InetAddress.getByName("127.0.0.1"))) {
            InetSocketAddress server = loopback.address();
            int port = server.getPort();

            loopback.closeAccepted(); // the server sends the first FIN; clients have not closed yet

            await().atMost(WAIT).untilAsserted(() -> {
                SocketTable table = probe.snapshot();
                assertThat(table.countToRemote(CLOSE_WAIT, server)).as("%s", table).isEqualTo(CLIENTS);
                assertThat(table.countOnLocalPort(FIN_WAIT2, port)).as("%s", table).isEqualTo(CLIENTS);
            });

            loopback.closeClients(); // a passive close: no TIME_WAIT on the client side

            await().atMost(WAIT).untilAsserted(() -> {
                SocketTable table = probe.snapshot();
                assertThat(table.countToRemote(CLOSE_WAIT, server)).as("%s", table).isZero();
                assertThat(table.countToRemote(TIME_WAIT, server)).as("%s", table).isZero();
                assertThat(table.countOnLocalPort(TIME_WAIT, port)).as("%s", table).isEqualTo(CLIENTS);
            });
        }
    }

    @Test
    void kernelCountsClientsOnOneLocalPortOfTwoLocalAddressesAsTwoConnections() throws IOException {
        KernelProbe probe = linuxProbe();
        try (ServerSocket server = new ServerSocket(0, 2, InetAddress.getByName("127.0.0.1"));
                Socket first = new Socket();
                Socket second = new Socket()) {
            InetSocketAddress address = (InetSocketAddress) server.getLocalSocketAddress();
            first.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
            int localPort = first.getLocalPort();
            // Another address of the loopback network, the same local port: another 4-tuple.
            second.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.3"), localPort));
            first.connect(address, (int) WAIT.toMillis());
            second.connect(address, (int) WAIT.toMillis());
            server.setSoTimeout((int) WAIT.toMillis());
            try (Socket accepted1 = server.accept(); Socket accepted2 = server.accept()) {
                await().atMost(WAIT).untilAsserted(() -> {
                    SocketTable table = probe.snapshot();
                    assertThat(table.countToRemote(ESTABLISHED, address)).as("%s", table).isEqualTo(2);
                    assertThat(table.countToRemotes(ESTABLISHED, List.of(address))).as("%s", table).isEqualTo(2);
                    assertThat(table.countOnLocalPort(ESTABLISHED, address.getPort())).as("%s", table).isEqualTo(2);
                });
            }
        }
    }

    @Test
    void kernelShowsIpv6LoopbackConnections() throws IOException {
        KernelProbe probe = linuxProbe();
        InetAddress ipv6Loopback = InetAddress.getByName("::1");
        Loopback opened;
        try {
            opened = Loopback.open(ipv6Loopback);
        } catch (IOException e) {
            Assumptions.abort("IPv6 loopback [::1] unavailable on this host: " + e);
            return;
        }
        try (Loopback loopback = opened) {
            InetSocketAddress server = loopback.address();
            await().atMost(WAIT).untilAsserted(() -> {
                SocketTable table = probe.snapshot();
                assertThat(table.countToRemote(ESTABLISHED, server)).as("%s", table).isEqualTo(CLIENTS);
                assertThat(table.countOnLocalPort(ESTABLISHED, server.getPort())).as("%s", table)
                        .isEqualTo(CLIENTS);
                assertThat(table.countOnLocalPort(LISTEN, server.getPort())).as("%s", table).isEqualTo(1);
            });
        }
    }

    // ---- helpers ----

    private static KernelProbe linuxProbe() {
        KernelProbe probe = KernelProbe.linux();
        Assumptions.assumeTrue(probe.isAvailable(),
                "no /proc/net/tcp on this host: the kernel probe needs Linux");
        return probe;
    }

    /** A server on {@code host} with {@link #CLIENTS} connected clients, all closed on close. */
    private static final class Loopback implements AutoCloseable {
        private final ServerSocket server;
        private final List<Socket> clients = new ArrayList<>();
        private final List<Socket> accepted = new ArrayList<>();

        private Loopback(ServerSocket server) {
            this.server = server;
        }

        static Loopback open(InetAddress host) throws IOException {
            Loopback loopback = new Loopback(new ServerSocket(0, CLIENTS * 2, host));
            try {
                loopback.server.setSoTimeout((int) WAIT.toMillis());
                for (int i = 0; i < CLIENTS; i++) {
                    Socket client = new Socket();
                    loopback.clients.add(client);
                    client.connect(loopback.address(), (int) WAIT.toMillis());
                    loopback.accepted.add(loopback.server.accept());
                }
            } catch (IOException e) {
                loopback.close();
                throw e;
            }
            return loopback;
        }

        InetSocketAddress address() {
            return (InetSocketAddress) server.getLocalSocketAddress();
        }

        void closeClients() throws IOException {
            for (Socket client : clients) {
                client.close();
            }
        }

        void closeAccepted() throws IOException {
            for (Socket socket : accepted) {
                socket.close();
            }
        }

        void readEndOfStreamAndCloseAccepted() throws IOException {
            for (Socket socket : accepted) {
                socket.setSoTimeout((int) WAIT.toMillis());
                assertThat(socket.getInputStream().read()).as("the client's FIN").isEqualTo(-1);
                socket.close();
            }
        }

        @Override
        public void close() throws IOException {
            closeClients();
            closeAccepted();
            server.close();
        }
    }

    private KernelProbe probeOf(List<String> tcpEntries, List<String> tcp6Entries) throws IOException {
        Path tcp = Files.writeString(dir.resolve("tcp"), header() + String.join("", tcpEntries), US_ASCII);
        Path tcp6 = Files.writeString(dir.resolve("tcp6"), header() + String.join("", tcp6Entries), US_ASCII);
        return KernelProbe.reading(tcp, tcp6);
    }

    private static String header() {
        return "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    }

    /** One table line for a socket, with addresses encoded as this host's kernel would. */
    private static String entry(String localIp, int localPort, InetSocketAddress remote, TcpState state)
            throws IOException {
        return entry(localIp, localPort, remote, state, 0);
    }

    private static String entry(String localIp, int localPort, InetSocketAddress remote, TcpState state,
            int rxQueue) throws IOException {
        // A literal like "::ffff:127.0.0.1" resolves to an Inet4Address; force it into tcp6 form.
        byte[] local = InetAddress.getByName(localIp).getAddress();
        if (localIp.contains(":") && local.length == 4) {
            local = mapped(local);
        }
        byte[] remoteBytes = remote.getAddress().getAddress();
        if (local.length == 16 && remoteBytes.length == 4) {
            remoteBytes = mapped(remoteBytes);
        }
        return String.format("%4d: %s:%04X %s:%04X %02X 00000000:%08X 00:00000000 00000000"
                        + "     0        0 12345 1 0000000000000000 100 0 0 10 0\n",
                0, hex(local), localPort, hex(remoteBytes), remote.getPort(), state.code(), rxQueue);
    }

    /** Each 32-bit word of the address as the kernel prints it: an int in host byte order. */
    private static String hex(byte[] address) {
        StringBuilder text = new StringBuilder();
        ByteBuffer words = ByteBuffer.wrap(address).order(ByteOrder.nativeOrder());
        while (words.hasRemaining()) {
            text.append(String.format("%08X", words.getInt()));
        }
        return text.toString();
    }

    private static byte[] mapped(byte[] ipv4) {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xFF;
        bytes[11] = (byte) 0xFF;
        System.arraycopy(ipv4, 0, bytes, 12, 4);
        return bytes;
    }

    private static InetSocketAddress local(int port) throws IOException {
        return new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port);
    }

    private static InetSocketAddress local6(int port) throws IOException {
        return new InetSocketAddress(InetAddress.getByName("2001:db8::2"), port);
    }

    /** An IPv4-mapped IPv6 address kept as an {@link Inet6Address} (the resolver would not). */
    private static InetSocketAddress mapped(String ipv4, int port) throws IOException {
        byte[] bytes = mapped(InetAddress.getByName(ipv4).getAddress());
        return new InetSocketAddress(Inet6Address.getByAddress(null, bytes, -1), port);
    }
}
