package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Seeded random operations on the engine against a fake clock, checking the invariants after
 * every step (after HttpCore5's TestConnPoolDeterministicFuzzer). Single-threaded, so a failing
 * seed replays exactly.
 */
class PoolFuzzTest {

    private static final int STEPS = 20_000;
    private static final int MAX_PER_ENDPOINT = 3;
    private static final int MAX_TOTAL = 5;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 42, 4711, 1_000_003})
    void randomOperationsKeepEveryInvariant(long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        StubConnector connector = new StubConnector();
        FakeTicker ticker = new FakeTicker();
        Endpoint[] endpoints = {Endpoint.of("a", 1), Endpoint.of("b", 2), Endpoint.of("c", 3)};
        Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder()
                .maxPerEndpoint(MAX_PER_ENDPOINT).maxTotal(MAX_TOTAL)
                .maxLifetime(Duration.ofSeconds(60)).lifetimeJitter(Duration.ofSeconds(10))
                .maxIdleTime(Duration.ofSeconds(20))
                .housekeepingInterval(Duration.ofHours(1)) // the test runs housekeeping itself
                .ticker(ticker).build());
        List<Lease<StubConnection>> held = new ArrayList<>();
        Map<StubConnection, Long> createdAt = new HashMap<>();
        Map<StubConnection, Long> releasedAt = new HashMap<>();
        StringBuilder trace = new StringBuilder();
        try {
            for (int step = 0; step < STEPS; step++) {
                int op = random.nextInt(100);
                if (op < 40) {
                    Endpoint e = endpoints[random.nextInt(endpoints.length)];
                    trace.append("lease ").append(e).append('\n');
                    try {
                        Lease<StubConnection> lease = pool.lease(e, Duration.ofNanos(1));
                        held.add(lease);
                        StubConnection c = lease.connection();
                        if (!lease.isReused()) {
                            createdAt.put(c, ticker.read());
                        } else {
                            long age = ticker.read() - createdAt.get(c);
                            long idle = ticker.read() - releasedAt.get(c);
                            if (age >= Duration.ofSeconds(60).toNanos() || idle >= Duration.ofSeconds(20).toNanos()) {
                                fail("leased an expired connection " + c + " (age " + Duration.ofNanos(age)
                                        + ", idle " + Duration.ofNanos(idle) + ")\n" + tail(trace));
                            }
                        }
                    } catch (LeaseTimeoutException expected) {
                        assertAtLimit(pool, e);
                    } catch (ConnectFailedException expected) {
                        assertThat(connector.failConnects).isTrue();
                    }
                } else if (op < 75 && !held.isEmpty()) {
                    Lease<StubConnection> lease = held.remove(random.nextInt(held.size()));
                    int how = random.nextInt(10);
                    if (how == 0) {
                        lease.markBroken();
                    } else if (how == 1) {
                        lease.retire();
                    }
                    trace.append("release ").append(lease.endpoint()).append(" how=").append(how).append('\n');
                    releasedAt.put(lease.connection(), ticker.read());
                    lease.close();
                } else if (op < 85) {
                    Duration d = Duration.ofMillis(random.nextInt(8000));
                    trace.append("advance ").append(d).append('\n');
                    ticker.advance(d);
                } else if (op < 92) {
                    trace.append("maintain\n");
                    pool.engine().maintain();
                } else if (op < 95) {
                    connector.failConnects = !connector.failConnects;
                    trace.append("failConnects=").append(connector.failConnects).append('\n');
                } else if (op < 97) {
                    boolean rejectAll = random.nextBoolean();
                    connector.validator = rejectAll ? c -> c.id % 2 == 0 : c -> true;
                    trace.append("validator rejectEven=").append(rejectAll).append('\n');
                }
                checkInvariants(pool, connector, held, trace);
            }
            held.forEach(Lease::close);
            held.clear();
            checkInvariants(pool, connector, held, trace);
        } finally {
            pool.close();
        }
        assertThat(connector.disposedCount()).isEqualTo(connector.opened.size());
    }

    private static void assertAtLimit(Pool<StubConnection> pool, Endpoint e) {
        PoolStats s = pool.stats();
        int forEndpoint = s.endpoint(e).active() + s.endpoint(e).idle();
        int total = s.active() + s.idle();
        assertThat(forEndpoint >= MAX_PER_ENDPOINT || total >= MAX_TOTAL)
                .as("a lease timed out although %s had %d of %d and the pool %d of %d", e, forEndpoint, MAX_PER_ENDPOINT, total, MAX_TOTAL)
                .isTrue();
        assertThat(s.endpoint(e).idle()).as("timed out although an idle connection was there").isZero();
    }

    private static void checkInvariants(Pool<StubConnection> pool, StubConnector connector,
                                        List<Lease<StubConnection>> held, CharSequence trace) {
        PoolStats s = pool.stats();
        Set<StubConnection> leased = new HashSet<>();
        for (Lease<StubConnection> l : held) {
            StubConnection c = l.connection();
            if (!leased.add(c)) {
                fail("connection " + c + " held by two leases\n" + tail(trace));
            }
            if (c.disposed.get()) {
                fail("leased connection " + c + " was disposed\n" + tail(trace));
            }
        }
        long open = connector.opened.size() - connector.disposedCount();
        if (s.active() != held.size() || s.pending() != 0 || open != s.active() + s.idle()
                || pool.engine().totalAllocated() != s.active() + s.idle()
                || s.active() + s.idle() > MAX_TOTAL) {
            fail("invariant broken: stats=" + s + " held=" + held.size() + " open=" + open
                    + " allocated=" + pool.engine().totalAllocated() + "\n" + tail(trace));
        }
        for (PoolStats.EndpointStats es : s.endpoints().values()) {
            if (es.active() + es.idle() > MAX_PER_ENDPOINT) {
                fail("per-endpoint limit broken: " + s + "\n" + tail(trace));
            }
        }
    }

    private static String tail(CharSequence trace) {
        int from = Math.max(0, trace.length() - 2000);
        return trace.subSequence(from, trace.length()).toString();
    }
}
