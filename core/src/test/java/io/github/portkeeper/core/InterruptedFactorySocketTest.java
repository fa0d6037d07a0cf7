package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A factory socket whose client thread is interrupted while blocked in a read: the JDK closes the
 * channel under the factory (ClosedByInterruptException). That close must still be counted once,
 * as what the kernel saw.
 */
class InterruptedFactorySocketTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** What a client does to its socket before it reads. */
    private interface Setup {
        void apply(Socket s) throws IOException;
    }

    @Test
    void aSocketWhoseReaderIsInterruptedEndsOnceAsAResetAndLeavesNoTimeWait() throws Exception {
        interruptReaderAndCheckTheEnding(s -> { });
    }

    @Test
    void aLingerTheClientSetsAsAnOptionIsRecordedSoTheInterruptedReaderStillEndsAsAReset() throws Exception {
        interruptReaderAndCheckTheEnding(s -> {
            s.setOption(StandardSocketOptions.SO_LINGER, 5);
            assertThat(s.getOption(StandardSocketOptions.SO_LINGER)).isEqualTo(5);
            assertThat(s.getSoLinger()).isEqualTo(5);
        });
    }

    private static void interruptReaderAndCheckTheEnding(Setup setup) throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("interrupted").listener(tally).build();
        try (ScriptedServer server = ScriptedServer.start()) { // reads until end of stream, then closes
            AtomicInteger localPort = new AtomicInteger();
            AtomicReference<Object> result = new AtomicReference<>();
            Thread client = new Thread(() -> {
                try (Socket s = sockets.createSocket(server.host(), server.port())) { // closed in its finally
                    setup.apply(s);
                    localPort.set(s.getLocalPort());
                    result.set(s.getInputStream().read());
                } catch (IOException e) {
                    result.set(e);
                }
            });
            client.start();
            awaitBlockedInRead(client, () -> localPort.get() != 0 && result.get() == null);

            client.interrupt();
            client.join(WAIT.toMillis());
            assertThat(client.isAlive()).as("client still blocked after the interrupt").isFalse();
            assertThat(result.get()).isInstanceOf(IOException.class);

            ScriptedServer.Ended end = server.nextEnd(WAIT); // the server has closed its side
            assertThat(end.clientPort()).isEqualTo(localPort.get());
            await().atMost(WAIT).untilAsserted(() -> assertThat(tally.closedEvents())
                    .as("endings recorded; %s", Kernel.describe(server.address())).hasSize(1));
            assertThat(tally.closedEvents().get(0).ending()).isEqualTo(Ending.RESET);
            assertThat(tally.closedEvents().get(0).reason()).isEqualTo(CloseReason.BROKEN);
            assertThat(Kernel.clientPorts(server.address(), TcpState.TIME_WAIT))
                    .as("TIME_WAIT toward the server; timewait.caused = %d", tally.timeWaitCaused())
                    .doesNotContain(localPort.get());
            assertThat(end.end()).as("the server saw the reset").isEqualTo(ScriptedServer.End.CLIENT_RESET_OR_ERROR);
            assertThat(sockets.stats().active()).isZero();
            assertThat(Kernel.clientCloseWait(server.address())).isZero();
        }
    }

    @Test
    void theWatcherCountsASocketClosedUnderItByAnInterruptAndTheClientsLaterCloseAddsNothing() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("interrupted").listener(tally)
                .idleWatchDelay(Duration.ofMillis(20)).build();
        try (ScriptedServer server = ScriptedServer.start()) {
            AtomicReference<Socket> socket = new AtomicReference<>();
            AtomicReference<Object> result = new AtomicReference<>();
            Thread client = new Thread(() -> {
                try {
                    Socket s = sockets.createSocket(server.host(), server.port());
                    socket.set(s);
                    result.set(s.getInputStream().read());
                } catch (IOException e) {
                    result.set(e);
                }
                // no close: the client leaves it to whoever holds the socket
            });
            client.start();
            awaitBlockedInRead(client, () -> socket.get() != null && result.get() == null);

            client.interrupt();
            client.join(WAIT.toMillis());
            assertThat(client.isAlive()).as("client still blocked after the interrupt").isFalse();
            assertThat(result.get()).isInstanceOf(IOException.class);
            int localPort = socket.get().getLocalPort();

            await().atMost(WAIT).untilAsserted(() -> assertThat(tally.closedEvents())
                    .as("endings recorded by the watcher; %s", Kernel.describe(server.address())).hasSize(1));
            assertThat(tally.closed(Ending.RESET)).isEqualTo(1);
            assertThat(sockets.stats().active()).isZero();
            assertThat(socket.get().isClosed()).isTrue();

            socket.get().close();
            assertThat(tally.closedTotal()).as("the client's close after the watcher's count adds nothing").isEqualTo(1);
            assertThat(sockets.stats().active()).isZero();
            server.nextEnd(WAIT);
            assertThat(Kernel.clientPorts(server.address(), TcpState.TIME_WAIT)).doesNotContain(localPort);
            assertThat(Kernel.clientCloseWait(server.address())).isZero();
        }
    }

    /** Blocked in the kernel or in a poll of it (a native frame of the JDK's socket code on top), not about to read. */
    private static void awaitBlockedInRead(Thread client, BooleanSupplier reading) {
        await().atMost(WAIT).until(() -> {
            StackTraceElement[] stack = client.getStackTrace();
            return reading.getAsBoolean() && stack.length > 0 && stack[0].isNativeMethod()
                    && stack[0].getClassName().startsWith("sun.nio.ch.");
        });
    }
}
