package io.github.portkeeper.core;

import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What happens around a lease's own connect: a refusal by the connect guard, and a pool closed
 * while the lease waited in the guard.
 */
class ConnectAttemptTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final TallyListener tally = new TallyListener();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        Thread.interrupted();
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    /** A connector whose connections never reached a peer: their closes leave no TIME_WAIT. */
    private static final class NoPeer implements Connector<Object> {
        @Override
        public Object connect(Endpoint endpoint) {
            return new Object();
        }

        @Override
        public boolean wasEstablished(Object connection) {
            return false;
        }
    }

    @Test
    void anEndpointWhoseOnlyConnectTheGuardRefusedIsForgottenByItsDeadline() {
        Endpoint refused = Endpoint.of("refused.example", 80);
        CountDownLatch removed = new CountDownLatch(1);
        ConnectGuard refuseAll = endpoint -> {
            throw new ConnectRateLimitedException(endpoint, "no connects allowed", null);
        };
        Pool<Object> pool = Pool.of(new NoPeer(), PoolConfig.builder().name("refusing")
                .maxIdleTime(Duration.ofMillis(200)).housekeepingInterval(Duration.ofMillis(50))
                .portBudget(PortBudget.disabled()).connectGuard(refuseAll)
                .listener(new PoolListener() {
                    @Override
                    public void endpointRemoved(Endpoint endpoint) {
                        if (endpoint.equals(refused)) {
                            removed.countDown();
                        }
                    }
                }).build());
        closeAfter.add(pool);

        assertThatThrownBy(() -> pool.lease(refused)).isInstanceOf(ConnectRateLimitedException.class);
        assertThat(pool.endpoints()).containsExactly(refused);

        // Nothing else happens in this pool: only the wake-up the refusal asks for can forget it.
        await().atMost(WAIT).until(() -> pool.endpoints().isEmpty());
        assertThat(removed.getCount()).as("endpointRemoved heard").isZero();
    }

    @Test
    void aLeaseInTheGuardWhenThePoolClosesOpensNoConnection() throws Exception {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        CountDownLatch inGuard = new CountDownLatch(1);
        CountDownLatch letThrough = new CountDownLatch(1);
        ConnectGuard blocking = endpoint -> {
            inGuard.countDown();
            try {
                if (!letThrough.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("never let through");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        };
        SocketPool sockets = SocketPool.builder().readTimeout(WAIT)
                .poolConfig(PoolConfig.builder().name("closing").connectGuard(blocking).listener(tally).build()).build();
        closeAfter.add(sockets);
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());

        CompletableFuture<Lease<?>> lease = CompletableFuture.supplyAsync(() -> {
            try {
                return sockets.pool().lease(endpoint);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertThat(inGuard.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("lease reached the guard").isTrue();
        sockets.close();
        letThrough.countDown();

        assertThatThrownBy(() -> lease.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PoolClosedException.class);
        assertThat(tally.opened()).as("connections opened").isZero();
        server.setSoTimeout(500);
        assertThatThrownBy(server::accept).as("the server saw no connection").isInstanceOf(SocketTimeoutException.class);
        assertThat(sockets.pool().stats().active()).isZero();
    }
}
