package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CloseWaitAges} measures a CLOSE_WAIT that lasts, refuses what it could only fail on
 * later, in its own thread, and never reports figures of a sampler that stopped.
 */
class CloseWaitAgesTest {

    private static final Duration INTERVAL = Duration.ofMillis(10);

    @TempDir
    Path dir;

    @Test
    void aClientLeftInCloseWaitIsFollowedFromSampleToSample() throws IOException {
        Kernel.assumeLinux();
        try (LineServer server = LineServer.closingOnAccept();
                Socket client = new Socket(server.address().getAddress(), server.address().getPort())) {
            InetSocketAddress to = server.address();
            await().atMost(Duration.ofSeconds(5)).until(() -> Kernel.clientPorts(to, TcpState.CLOSE_WAIT).contains(client.getLocalPort()));
            try (CloseWaitAges ages = CloseWaitAges.sample(to, INTERVAL)) {
                await().atMost(Duration.ofSeconds(5)).until(() -> ages.oldest().compareTo(Duration.ofMillis(100)) >= 0);
                assertThat(ages.peak()).isEqualTo(1);
                assertThat(ages.samples()).isGreaterThanOrEqualTo(2);
            }
        }
    }

    @Test
    void aNullServerIsRefusedAtOnceRatherThanStoppingTheSamplerSilently() {
        assertThatThrownBy(() -> CloseWaitAges.sample(null, INTERVAL)).isInstanceOf(NullPointerException.class)
                .hasMessage("server");
    }

    @Test
    void anUnresolvedServerIsRefusedAtOnce() {
        InetSocketAddress unresolved = InetSocketAddress.createUnresolved("localhost", 8080);
        assertThatThrownBy(() -> CloseWaitAges.sample(unresolved, INTERVAL)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("server must be resolved, but was localhost/<unresolved>:8080");
    }

    @Test
    void anIntervalThatIsNotPositiveIsRefused() {
        InetSocketAddress server = new InetSocketAddress("127.0.0.1", 8080);
        assertThatThrownBy(() -> CloseWaitAges.sample(server, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be positive, but was null");
        assertThatThrownBy(() -> CloseWaitAges.sample(server, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be positive, but was PT0S");
        assertThatThrownBy(() -> CloseWaitAges.sample(server, Duration.ofMillis(-1))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be positive, but was PT-0.001S");
    }

    @Test
    void anIntervalPastTheNanosecondClockTakesOneSampleRatherThanFailing() throws IOException {
        Path tcp = Files.writeString(dir.resolve("tcp"), "  sl  local_address rem_address   st tx_queue rx_queue\n",
                StandardCharsets.US_ASCII);
        KernelProbe probe = KernelProbe.reading(tcp, dir.resolve("tcp6"));
        try (CloseWaitAges ages = CloseWaitAges.sample(new InetSocketAddress("127.0.0.1", 8080), Duration.ofDays(300 * 365), probe)) {
            await().atMost(Duration.ofSeconds(5)).until(() -> ages.samples() >= 1);
            assertThat(ages.peak()).isZero();
        }
    }

    @Test
    void aSampleThatFailsIsRethrownByTheFiguresAndCloseRatherThanReportedAsNoCloseWait() throws IOException {
        Path tcp = Files.writeString(dir.resolve("tcp"), "  sl  local_address rem_address   st tx_queue rx_queue\n",
                StandardCharsets.US_ASCII);
        KernelProbe probe = KernelProbe.reading(tcp, dir.resolve("tcp6"));
        InetSocketAddress server = new InetSocketAddress("127.0.0.1", 8080);
        CloseWaitAges ages = CloseWaitAges.sample(server, INTERVAL, probe);
        await().atMost(Duration.ofSeconds(5)).until(() -> ages.samples() >= 1);

        Files.delete(tcp); // the tables vanish: the next sample fails

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThatThrownBy(ages::oldest)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("CLOSE_WAIT sampling toward " + server + " failed after ")
                .hasMessageContaining("so its figures stop there")
                .hasRootCauseInstanceOf(IllegalStateException.class)
                .hasRootCauseMessage("Kernel probe unavailable: neither " + tcp + " nor " + dir.resolve("tcp6")
                        + " exists (not Linux, or /proc not mounted); check isAvailable() first"));
        assertThatThrownBy(ages::peak).isInstanceOf(IllegalStateException.class).hasMessageContaining("failed after");
        assertThatThrownBy(ages::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("failed after");
    }
}
