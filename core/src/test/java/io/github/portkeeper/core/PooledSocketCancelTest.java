package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.ScriptedServer.End;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Closing a {@link SocketPool} socket from another thread while its owner is blocked in a read is
 * how Java code cancels blocking socket I/O (a watchdog, a timeout handler): as with a plain
 * socket, the owner must wake with an exception, and the connection, its stream now out of step,
 * must never serve anyone again.
 */
class PooledSocketCancelTest {

    /** Generous: a loaded 2-core machine. The fixed code answers in milliseconds. */
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void closingFromAnotherThreadWhileTheOwnerIsBlockedReadingAbortsWithResetWakesTheOwnerAndIsNeverReused() throws Exception {
        TallyListener tally = new TallyListener();
        ScriptedServer server = ScriptedServer.start();
        SocketPool sockets = SocketPool.builder()
                .poolConfig(PoolConfig.builder().listener(tally).maxPerEndpoint(1)
                        .leaseTimeout(Duration.ofSeconds(2)).housekeepingInterval(Duration.ofMillis(50)).build())
                .build(); // read timeout 0: a read waits forever
        TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
        CompletableFuture<Object> read = new CompletableFuture<>();
        Thread owner = null;
        try {
            Socket s = sockets.socket(server.host(), server.port());
            int abortedPort = s.getLocalPort();
            owner = startBlockedReader(s, read);

            assertTimeoutPreemptively(WAIT, s::close, "the canceller's close() must not block");
            assertThat(s.isClosed()).isTrue();
            Object result = assertTimeoutPreemptively(WAIT, () -> read.get(), "the owner is still blocked in read() after the close");
            assertThat(result).as("what the owner's read ended with").isInstanceOf(SocketException.class);

            try (Socket next = assertTimeoutPreemptively(WAIT, () -> sockets.socket(server.host(), server.port()),
                    "the next lease must not wait for the aborted connection")) {
                assertThat(next.getLocalPort()).as("a new connection, never the aborted one").isNotEqualTo(abortedPort);
                assertThat(ScriptedServer.exchange(next, 1)).isEqualTo(2);
            }

            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement()
                    .satisfies(c -> assertThat(c.ending()).as("closed with RST").isEqualTo(Ending.RESET));
            assertThat(tally.opened()).isEqualTo(2);
            await().atMost(WAIT).until(() -> server.ended().stream().anyMatch(e -> e.clientPort() == abortedPort));
            assertThat(server.ended()).filteredOn(e -> e.clientPort() == abortedPort).singleElement()
                    .satisfies(e -> assertThat(e.end()).as("the server saw a reset, not our FIN").isEqualTo(End.CLIENT_RESET_OR_ERROR));
            assertThat(Kernel.clientPorts(server.address(), TcpState.TIME_WAIT)).doesNotContain(abortedPort);
            assertThat(timeWait.newSince()).as("client TIME_WAIT toward the server: " + Kernel.describe(server.address())).isZero();

            assertThat(sockets.pool().stats().active()).as("connections still leased").isZero();
            assertThat(sockets.pool().stats().idle()).as("only the new connection is idle").isEqualTo(1);
            assertThat(Kernel.clientCloseWait(server.address())).as(Kernel.describe(server.address())).isZero();
        } finally {
            server.close(); // the server's end of stream frees an owner still blocked (the defect)
            sockets.close();
            if (owner != null) {
                owner.join(TimeUnit.SECONDS.toMillis(5));
            }
        }
        assertThat(owner.isAlive()).isFalse();
        assertThat(Kernel.clientEstablished(server.address())).as("sockets left open: " + Kernel.describe(server.address())).isZero();
    }

    @Test
    void closingFromAnotherThreadWithACallerWaitingForTheConnectionReturnsAtOnceAndTheWaiterGetsANewOne() throws Exception {
        TallyListener tally = new TallyListener();
        ScriptedServer server = ScriptedServer.start();
        SocketPool sockets = SocketPool.builder()
                .poolConfig(PoolConfig.builder().listener(tally).maxPerEndpoint(1)
                        .leaseTimeout(WAIT).housekeepingInterval(Duration.ofMillis(50)).build())
                .build();
        CompletableFuture<Object> read = new CompletableFuture<>();
        CompletableFuture<Integer> waiterPort = new CompletableFuture<>();
        Thread owner = null;
        Thread waiter = null;
        try {
            Socket s = sockets.socket(server.host(), server.port());
            int abortedPort = s.getLocalPort();
            owner = startBlockedReader(s, read);
            waiter = new Thread(() -> {
                try (Socket next = sockets.socket(server.host(), server.port())) {
                    assertThat(ScriptedServer.exchange(next, 1)).isEqualTo(2);
                    waiterPort.complete(next.getLocalPort());
                } catch (Throwable e) {
                    waiterPort.completeExceptionally(e);
                }
            }, "waiter");
            waiter.start();
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            await().atMost(WAIT).until(() -> sockets.pool().stats(endpoint).pending() == 1);

            assertTimeoutPreemptively(WAIT, s::close, "the canceller's close() must not block handing the connection to the waiter");
            assertThat(assertTimeoutPreemptively(WAIT, () -> read.get())).isInstanceOf(SocketException.class);
            assertThat(waiterPort.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                    .as("the waiter got a new connection, not the aborted one").isNotEqualTo(abortedPort);
            await().atMost(WAIT).until(() -> tally.closed(Ending.RESET) == 1);
            assertThat(tally.closedTotal()).isEqualTo(1);
            assertThat(sockets.pool().stats().active()).as("connections still leased").isZero();
        } finally {
            server.close(); // the server's end of stream frees threads still blocked (the defect)
            sockets.close();
            for (Thread t : new Thread[] {owner, waiter}) {
                if (t != null) {
                    t.join(TimeUnit.SECONDS.toMillis(5));
                    assertThat(t.isAlive()).as(t.getName() + " still running").isFalse();
                }
            }
        }
    }

    /**
     * Starts the owner: one exchange on {@code s}, then a read the server never answers (it waits
     * for the next request); its outcome, a value or a throwable, completes {@code read}. Returns
     * once the owner is blocked in the kernel or in a poll of it (a native frame of the JDK's
     * socket code on top), not about to read.
     */
    private static Thread startBlockedReader(Socket s, CompletableFuture<Object> read) throws Exception {
        InputStream in = s.getInputStream();
        Thread owner = new Thread(() -> {
            try {
                assertThat(ScriptedServer.exchange(s, 41)).isEqualTo(42);
                read.complete(in.read());
            } catch (Throwable e) {
                read.complete(e);
            }
        }, "blocked-owner");
        owner.start();
        await().atMost(WAIT).until(() -> {
            StackTraceElement[] stack = owner.getStackTrace();
            return !read.isDone() && stack.length > 0 && stack[0].isNativeMethod()
                    && stack[0].getClassName().startsWith("sun.nio.ch.");
        });
        return owner;
    }
}
