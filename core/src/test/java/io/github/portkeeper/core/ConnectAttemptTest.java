package io.github.portkeeper.core;

import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What happens around a lease's own connect: a refusal by the connect guard.
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
}
