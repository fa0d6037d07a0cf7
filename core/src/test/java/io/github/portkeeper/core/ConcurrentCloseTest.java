package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link Pool#close()} returns once the pool's idle connections are closed, whichever caller gets
 * there first: a second close while the first is still closing them waits for it, so that what
 * follows a close (a check that nothing is left open, a shutdown hook's exit) never sees them
 * open.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConcurrentCloseTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void aSecondCloseWhileTheFirstIsClosingReturnsOnlyOnceThePoolIsClosed() throws Exception {
        StubConnector connector = new StubConnector();
        CountDownLatch inDispose = new CountDownLatch(1);
        CountDownLatch letDisposeGo = new CountDownLatch(1);
        Endpoint endpoint = Endpoint.of("closing.example", 80);
        Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder().name("closed-twice").maxPerEndpoint(8)
                .portBudget(PortBudget.disabled()).build());
        List<Lease<StubConnection>> leases = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            leases.add(pool.lease(endpoint));
        }
        for (Lease<StubConnection> l : leases) {
            l.close();
        }
        assertThat(pool.stats().idle()).isEqualTo(8);
        connector.onDispose = c -> {
            inDispose.countDown();
            try {
                letDisposeGo.await(WAIT.toMillis(), TimeUnit.MILLISECONDS); // a slow close of the first connection
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };

        Thread first = new Thread(pool::close, "first-close");
        first.start();
        assertThat(inDispose.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the first close is closing").isTrue();
        assertThat(pool.isClosed()).isTrue();

        AtomicReference<Integer> idleAfterSecondClose = new AtomicReference<>();
        Thread second = new Thread(() -> {
            pool.close();
            idleAfterSecondClose.set(pool.stats().idle() + pool.stats().draining());
        }, "second-close");
        second.start();
        // Either the second close returned (it did not wait), or it waits for the first.
        await().atMost(WAIT).until(() -> idleAfterSecondClose.get() != null
                || second.getState() == Thread.State.WAITING || second.getState() == Thread.State.TIMED_WAITING);
        letDisposeGo.countDown();
        second.join(WAIT.toMillis());
        first.join(WAIT.toMillis());

        assertThat(idleAfterSecondClose.get()).as("idle and draining connections when the second close returned").isZero();
        assertThat(connector.disposedCount()).isEqualTo(8);
    }

    @Test
    void aListenerThatClosesThePoolFromInsideItsCloseDoesNotHangIt() throws Exception {
        StubConnector connector = new StubConnector();
        AtomicReference<Pool<StubConnection>> self = new AtomicReference<>();
        PoolListener closesAgain = new PoolListener() {
            @Override
            public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                self.get().close(); // user code calling close again on the closing thread
            }
        };
        Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder().name("closed-from-listener")
                .listener(closesAgain).portBudget(PortBudget.disabled()).build());
        self.set(pool);
        pool.lease(Endpoint.of("closing.example", 80)).close();

        pool.close();

        assertThat(pool.stats().idle()).isZero();
        assertThat(connector.disposedCount()).isEqualTo(1);
    }
}
