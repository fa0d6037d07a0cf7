package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.github.portkeeper.core.SocketPool;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * The extension fails the tests it should: each inner class is a user's test that leaves one
 * kind of mess (or none), run through the JUnit launcher, and its outcome and message checked.
 */
class KernelCheckTest {

    @BeforeAll
    static void linuxOnly() {
        Kernel.assumeLinux();
    }

    @Test
    void clientClosingFirstFailsNoNewClientTimeWait() {
        TestExecutionSummary s = run(ClosesFirst.class);
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("expected no new client TIME_WAIT", "but 3 appeared");
    }

    @Test
    void clientLeavingCloseWaitFailsNoClientCloseWait() {
        TestExecutionSummary s = run(LeaksCloseWait.class);
        LeaksCloseWait.LEAKED.forEach(KernelCheckTest::close);
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("expected no client CLOSE_WAIT", "but 2 remain");
    }

    @Test
    void leaseNotGivenBackFailsNoLeaseHeld() {
        TestExecutionSummary s = run(HoldsLease.class);
        HoldsLease.pool.close();
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("expected no Portkeeper lease still held", "but 1 are");
    }

    @Test
    void counterThatMissesTheKernelsTimeWaitFailsTheComparison() {
        TestExecutionSummary s = run(CounterMissesTimeWait.class);
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("the pool counted 0 and the kernel 2");
    }

    @Test
    void aCheckTowardALoopbackPortCountsTheSocketsTowardThatPort() {
        TestExecutionSummary s = run(ClosesFirstTowardLoopbackPort.class);
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("expected no new client TIME_WAIT", "but 2 appeared");
    }

    @Test
    void aLoopbackPortOutsideOneTo65535IsRefusedRatherThanCheckingNothing() {
        assertThatThrownBy(() -> KernelCheck.towardLoopbackPort(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be between 1 and 65535, but was 0");
        assertThatThrownBy(() -> KernelCheck.towardLoopbackPort(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be between 1 and 65535, but was -1");
        assertThatThrownBy(() -> KernelCheck.towardLoopbackPort(65536)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be between 1 and 65535, but was 65536");
    }

    @Test
    void aCheckTowardALoopbackPortAlsoCountsTheSocketsOverTheIpv6LoopbackAddress() {
        TestExecutionSummary s = run(ClosesFirstOverIpv6Loopback.class);
        assertThat(s.getTestsAbortedCount()).as("skipped: %s", s.getFailures()).isZero();
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("expected no new client TIME_WAIT", "but 2 appeared");
    }

    @Test
    void aWildcardServerAddressIsRefusedRatherThanCheckingNothing() {
        TestExecutionSummary s = run(ClosesFirstTowardWildcard.class);
        assertThat(failureMessages(s)).singleElement().asString()
                .startsWith("server must be an address clients connect to, but was the wildcard 0.0.0.0/0.0.0.0:");
    }

    @Test
    void aWildcardServerAddressIsRefusedByEveryCountTowardAServer() {
        InetSocketAddress wildcard = new InetSocketAddress(8080);
        String refusal = "server must be an address clients connect to, but was the wildcard 0.0.0.0/0.0.0.0:8080 "
                + "(no client socket has a wildcard remote address, so every count toward it would be zero and every "
                + "check would pass): give the address clients connect to, e.g. "
                + "new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080)";
        assertThatThrownBy(() -> TimeWaitCount.toward(wildcard)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(refusal);
        assertThatThrownBy(() -> PortkeeperAssertions.assertNoClientCloseWait(wildcard, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
        assertThatThrownBy(() -> CloseWaitAges.sample(wildcard, Duration.ofMillis(50)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
        assertThatThrownBy(() -> Kernel.clientTimeWait(new InetSocketAddress("::", 8080)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("server must be an address clients connect to, but was the wildcard ");
    }

    @Test
    void aCheckThatThrowsDoesNotHideTheOtherChecksFailures() {
        TestExecutionSummary s = run(PoolSupplierThrows.class);
        assertThat(s.getFailures()).singleElement().satisfies(f -> {
            assertThat(f.getException()).isInstanceOf(IllegalStateException.class).hasMessage("no pool here");
            assertThat(f.getException().getSuppressed()).singleElement().asString()
                    .contains("expected no new client TIME_WAIT", "but 1 appeared");
        });
    }

    @Test
    void onlyNoLeaseHeldStillChecksWhereTheKernelCannotBeAsked() {
        TestExecutionSummary s = run(HoldsLeaseWithoutKernel.class);
        if (HoldsLeaseWithoutKernel.pool != null) {
            HoldsLeaseWithoutKernel.pool.close();
        }
        assertThat(s.getTestsAbortedCount()).as("skipped").isZero();
        assertThat(failureMessages(s)).singleElement().asString()
                .contains("expected no Portkeeper lease still held", "but 1 are");
    }

    @Test
    void aCheckThatReadsTheKernelIsSkippedWhereTheKernelCannotBeAsked() {
        TestExecutionSummary s = run(ClosesFirstWithoutKernel.class);
        assertThat(s.getTestsAbortedCount()).isEqualTo(1);
        assertThat(s.getTestsFailedCount()).isZero();
    }

    @Test
    void pooledClientThatLetsTheServerCloseFirstPasses() {
        TestExecutionSummary s = run("io.github.portkeeper.test.example.ClientLeavesNoTimeWaitTest");
        assertThat(failureMessages(s)).isEmpty();
        assertThat(s.getTestsSucceededCount()).isEqualTo(1);
    }

    private static TestExecutionSummary run(Class<?> testClass) {
        return run(testClass.getName());
    }

    private static TestExecutionSummary run(String testClass) {
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(testClass)).build(), listener);
        TestExecutionSummary summary = listener.getSummary();
        assertThat(summary.getTestsFoundCount()).as("tests found in %s", testClass).isEqualTo(1);
        return summary;
    }

    private static List<String> failureMessages(TestExecutionSummary s) {
        List<String> messages = new ArrayList<>();
        s.getFailures().forEach(f -> messages.add(String.valueOf(f.getException().getMessage())));
        return messages;
    }

    static void close(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    static void exchange(Socket s) throws IOException {
        s.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
        int b;
        do {
            b = s.getInputStream().read();
        } while (b != '\n' && b != -1);
    }

    /** A base for the inner tests: a fresh echo server per test. */
    abstract static class WithServer {
        LineServer server;

        @BeforeEach
        void startServer() throws IOException {
            server = server();
        }

        LineServer server() throws IOException {
            return LineServer.echo();
        }

        @AfterEach
        void stopServer() throws IOException {
            server.close();
        }
    }

    static class ClosesFirst extends WithServer {
        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address()).noNewClientTimeWait();

        @Test
        void opensThreeConnectionsAndClosesEachFirst() throws IOException {
            for (int i = 0; i < 3; i++) {
                try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                    exchange(s);
                }
            }
        }
    }

    static class ClosesFirstTowardLoopbackPort {
        static LineServer server;

        @BeforeAll
        static void startServer() throws IOException {
            server = LineServer.echo();
        }

        @AfterAll
        static void stopServer() throws IOException {
            server.close();
        }

        @RegisterExtension
        final KernelCheck kernel = KernelCheck.towardLoopbackPort(server.address().getPort()).noNewClientTimeWait();

        @Test
        void opensTwoConnectionsAndClosesEachFirst() throws IOException {
            for (int i = 0; i < 2; i++) {
                try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                    exchange(s);
                }
            }
        }
    }

    static class ClosesFirstOverIpv6Loopback {
        static LineServer server;

        @BeforeAll
        static void startServer() throws IOException {
            InetAddress ipv6Loopback = InetAddress.getByName("::1");
            try {
                server = LineServer.echoOn(ipv6Loopback);
            } catch (IOException e) {
                Assumptions.abort("this host has no IPv6 loopback address: " + e);
            }
        }

        @AfterAll
        static void stopServer() throws IOException {
            if (server != null) {
                server.close();
            }
        }

        @RegisterExtension
        final KernelCheck kernel = KernelCheck.towardLoopbackPort(server.address().getPort()).noNewClientTimeWait();

        @Test
        void opensTwoConnectionsOverIpv6AndClosesEachFirst() throws IOException {
            for (int i = 0; i < 2; i++) {
                try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                    exchange(s);
                }
            }
        }
    }

    static class ClosesFirstTowardWildcard extends WithServer {
        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> new InetSocketAddress(server.address().getPort()))
                .noNewClientTimeWait();

        @Test
        void opensTwoConnectionsAndClosesEachFirst() throws IOException {
            for (int i = 0; i < 2; i++) {
                try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                    exchange(s);
                }
            }
        }
    }

    static class PoolSupplierThrows extends WithServer {
        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address())
                .noLeaseHeld(() -> {
                    throw new IllegalStateException("no pool here");
                })
                .noNewClientTimeWait();

        @Test
        void closesOneConnectionFirst() throws IOException {
            try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                exchange(s);
            }
        }
    }

    static class HoldsLeaseWithoutKernel extends WithServer {
        static SocketPool pool;

        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address()).noLeaseHeld(() -> pool.pool())
                .kernelAvailable(() -> false);

        @Test
        void leasesASocketAndNeverGivesItBack() throws IOException {
            pool = SocketPool.create();
            exchange(pool.socket("127.0.0.1", server.address().getPort()));
        }
    }

    static class ClosesFirstWithoutKernel extends WithServer {
        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address())
                .noLeaseHeld(() -> {
                    throw new IllegalStateException("checked, though the test was to be skipped");
                })
                .noNewClientTimeWait().kernelAvailable(() -> false);

        @Test
        void closesOneConnectionFirst() throws IOException {
            try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                exchange(s);
            }
        }
    }

    static class LeaksCloseWait extends WithServer {
        static final List<Socket> LEAKED = new ArrayList<>();

        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address()).noClientCloseWait(Duration.ofMillis(300));

        @Override
        LineServer server() throws IOException {
            return LineServer.closingOnAccept();
        }

        @Test
        void opensTwoConnectionsAndNeverClosesThem() throws IOException {
            for (int i = 0; i < 2; i++) {
                Socket s = new Socket(server.address().getAddress(), server.address().getPort());
                LEAKED.add(s);
                // Wait for the server's FIN (end of stream), so the socket is in CLOSE_WAIT before
                // the check runs; it is then left open, as the leaking client would.
                s.setSoTimeout(10_000);
                if (s.getInputStream().read() != -1) {
                    throw new IOException("the server sent bytes instead of closing");
                }
            }
        }
    }

    static class HoldsLease extends WithServer {
        static SocketPool pool;

        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address()).noLeaseHeld(() -> pool.pool());

        @Test
        void leasesASocketAndNeverGivesItBack() throws IOException {
            pool = SocketPool.create();
            exchange(pool.socket("127.0.0.1", server.address().getPort()));
        }
    }

    static class CounterMissesTimeWait extends WithServer {
        @RegisterExtension
        final KernelCheck kernel = KernelCheck.toward(() -> server.address()).timeWaitCausedMatchesKernel(() -> 0);

        @Test
        void closesTwoConnectionsFirstButCountsNone() throws IOException {
            for (int i = 0; i < 2; i++) {
                try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                    exchange(s);
                }
            }
        }
    }
}
