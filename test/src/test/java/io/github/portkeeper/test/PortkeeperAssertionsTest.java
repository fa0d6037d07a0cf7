package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.SocketPool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The assertions called directly, as a test of any framework would, against real loopback servers. */
class PortkeeperAssertionsTest {

    private static final InetSocketAddress SOMEWHERE = new InetSocketAddress("127.0.0.1", 8080);

    @Test
    void aClientLeftInCloseWaitFailsTheAssertionAndPassesOnceItCloses() throws IOException {
        Kernel.assumeLinux();
        try (LineServer server = LineServer.closingOnAccept()) {
            InetSocketAddress to = server.address();
            Socket client = new Socket(to.getAddress(), to.getPort());
            try {
                await().atMost(Duration.ofSeconds(5)).until(() -> Kernel.clientCloseWait(to) == 1);
                assertThatThrownBy(() -> PortkeeperAssertions.assertNoClientCloseWait(to, Duration.ofMillis(100)))
                        .isInstanceOf(AssertionFailedError.class)
                        .hasMessageStartingWith("expected no client CLOSE_WAIT toward " + to + " after PT0.1S, but 1 remain");
            } finally {
                client.close();
            }
            PortkeeperAssertions.assertNoClientCloseWait(to, Duration.ZERO);
        }
    }

    @Test
    void aGraceThatIsNullOrNegativeIsRefusedNamingIt() {
        assertThatThrownBy(() -> PortkeeperAssertions.assertNoClientCloseWait(SOMEWHERE, null))
                .isInstanceOf(NullPointerException.class).hasMessage("grace");
        assertThatThrownBy(() -> PortkeeperAssertions.assertNoClientCloseWait(SOMEWHERE, Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("grace must not be negative, but was PT-1S");
        assertThatThrownBy(() -> PortkeeperAssertions.assertNoClientCloseWait(null, Duration.ofSeconds(1)))
                .isInstanceOf(NullPointerException.class).hasMessage("server");
        KernelCheck check = KernelCheck.towardLoopbackPort(8080);
        assertThatThrownBy(() -> check.noClientCloseWait(null))
                .isInstanceOf(NullPointerException.class).hasMessage("grace");
        assertThatThrownBy(() -> check.noClientCloseWait(Duration.ofMillis(-5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("grace must not be negative, but was PT-0.005S");
    }

    @Test
    void aGraceLongerThanTheNanosecondClockMeansWaitAsLongAsItTakes() throws IOException {
        Kernel.assumeLinux();
        Duration forever = Duration.ofSeconds(Long.MAX_VALUE);
        try (LineServer server = LineServer.echo()) {
            PortkeeperAssertions.assertNoClientCloseWait(server.address(), forever);
            KernelCheck.towardLoopbackPort(server.address().getPort()).noClientCloseWait(forever);
        }
    }

    @Test
    void aClientThatClosesFirstFailsNoNewTimeWaitAndTheKernelCountIsWhatACounterMustMatch() throws IOException {
        Kernel.assumeLinux();
        try (LineServer server = LineServer.echo()) {
            TimeWaitCount before = TimeWaitCount.toward(server.address());
            PortkeeperAssertions.assertNoNewClientTimeWait(before);
            for (int i = 0; i < 2; i++) {
                try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                    KernelCheckTest.exchange(s);
                }
            }
            assertThatThrownBy(() -> PortkeeperAssertions.assertNoNewClientTimeWait(before))
                    .isInstanceOf(AssertionFailedError.class)
                    .hasMessageStartingWith("expected no new client TIME_WAIT toward " + server.address() + ", but 2 appeared");
            PortkeeperAssertions.assertTimeWaitCausedMatchesKernel(2, before);
            assertThatThrownBy(() -> PortkeeperAssertions.assertTimeWaitCausedMatchesKernel(1, before))
                    .isInstanceOf(AssertionFailedError.class)
                    .hasMessage("expected timewait.caused to equal the kernel's new client TIME_WAIT toward " + server.address()
                            + ", but the pool counted 1 and the kernel 2");
        }
    }

    @Test
    void aLeaseStillHeldFailsTheAssertionAndPassesOnceGivenBack() throws IOException {
        try (LineServer server = LineServer.echo(); SocketPool pool = SocketPool.create()) {
            Socket leased = pool.socket("127.0.0.1", server.address().getPort());
            KernelCheckTest.exchange(leased);
            assertThatThrownBy(() -> PortkeeperAssertions.assertNoLeaseHeld(pool.pool()))
                    .isInstanceOf(AssertionFailedError.class)
                    .hasMessageStartingWith("expected no Portkeeper lease still held by pool '" + pool.pool().name()
                            + "', but 1 are: 127.0.0.1:" + server.address().getPort() + "=1");
            leased.close();
            PortkeeperAssertions.assertNoLeaseHeld(pool.pool());
        }
    }
}
