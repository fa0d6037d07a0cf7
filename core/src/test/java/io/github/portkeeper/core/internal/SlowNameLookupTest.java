package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The kernel counts' host-name lookups ({@link EndpointAddresses}, on {@link IdleWatcher}'s
 * lookup threads) while several names hang, as names whose server does not answer do until
 * the resolver times out: a new endpoint's first lookup does not wait behind them.
 */
class SlowNameLookupTest {

    /** More hanging names than the lookups once had threads (4), fewer than a busy host may track. */
    private static final int HANGING_NAMES = 8;

    private final CountDownLatch hang = new CountDownLatch(1);
    private final CountDownLatch allHanging = new CountDownLatch(HANGING_NAMES);
    private EndpointAddresses.Lookup jvmLookup;

    @BeforeEach
    void stubTheResolver() {
        jvmLookup = EndpointAddresses.lookup;
        EndpointAddresses.lookup = host -> {
            if (host.startsWith("hanging-")) {
                allHanging.countDown();
                try {
                    hang.await(60, TimeUnit.SECONDS); // bounded: a failed test must not keep a thread for good
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new UnknownHostException(host);
            }
            if (host.equals("fresh.test")) {
                return new InetAddress[] {InetAddress.getByName("127.0.0.7")};
            }
            return jvmLookup.allByName(host);
        };
    }

    @AfterEach
    void restore() {
        hang.countDown();
        EndpointAddresses.lookup = jvmLookup;
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aNewEndpointsFirstLookupDoesNotWaitBehindNamesThatHang() throws Exception {
        long now = System.nanoTime();
        for (int i = 0; i < HANGING_NAMES; i++) {
            assertThat(new EndpointAddresses().current(Endpoint.of("hanging-" + i + ".test", 80), now, () -> { })).isNull();
        }
        // All of them hanging before the new endpoint asks: on a loaded machine their lookup
        // threads may not all have started yet, and a lookup that has not started blocks nothing.
        assertThat(allHanging.await(20, TimeUnit.SECONDS)).as("names whose lookup has not started yet: " + allHanging.getCount()).isTrue();
        CountDownLatch settled = new CountDownLatch(1);
        EndpointAddresses fresh = new EndpointAddresses();
        Endpoint endpoint = Endpoint.of("fresh.test", 80);
        assertThat(fresh.current(endpoint, now, settled::countDown)).isNull();

        assertThat(settled.await(20, TimeUnit.SECONDS))
                .as("the new endpoint's lookup settled while " + HANGING_NAMES + " names hang").isTrue();
        assertThat(fresh.current(endpoint, now, () -> { }))
                .containsExactly(new InetSocketAddress(InetAddress.getByName("127.0.0.7"), 80));
    }
}
