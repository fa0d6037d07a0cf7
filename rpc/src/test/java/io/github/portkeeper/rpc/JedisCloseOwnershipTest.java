package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.test.CloseWaitAges;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.rpc.testing.RedisServer;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisFactory;
import redis.clients.jedis.JedisPool;
import redis.clients.jedis.JedisPoolConfig;
import redis.clients.jedis.JedisSocketFactory;
import redis.clients.jedis.exceptions.JedisConnectionException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real Jedis and its {@code JedisPool} against a real {@code redis-server}, through a
 * {@link JedisSocketFactory} built on the close-owning socket factory: the pool's eviction closes
 * idle connections, the factory decides how. Jedis closes without a goodbye (no {@code QUIT}
 * since Redis 7.2 deprecated it), so with Redis' {@code timeout} set the server's idle close ends
 * each evicted connection ({@code PEER}); without it nothing ever closes them from the server
 * side and the drain timeout's fallback ({@code RESET}) does. Either way no client TIME_WAIT,
 * and the endings counted match the kernel.
 *
 * <p>Here, not in a module of its own: Jedis is another RPC client with its own pool, and the
 * real-Redis test support lives in this module's tests.
 */
class JedisCloseOwnershipTest {

    private static final int THREADS = 16;
    private static final int OPS = 2_000;
    private static final Duration CLOSE_WAIT_BOUND = Duration.ofSeconds(2);

    @Test
    void withRedisTimeoutEvictedConnectionsEndByTheServersCloseAndLeaveNoTimeWait() throws Exception {
        TallyListener tally = run(1, Retirement.awaitPeer(Duration.ofSeconds(5)), Duration.ofMillis(300), 2);
        assertThat(tally.closed(Ending.PEER)).isEqualTo(tally.opened());
    }

    @Test
    void redisClosingConnectionsThePoolKeepsIdleLeavesNoCloseWaitAndThePoolDropsThem() throws Exception {
        // Eviction after 4 s idle, Redis' timeout after 1 s: Redis closes first, while the pool
        // holds the connections idle; the watcher answers, the pool's validation sees them closed.
        TallyListener tally = run(1, Retirement.awaitPeer(Duration.ofSeconds(5)), Duration.ofSeconds(4), 1);
        assertThat(tally.closed(Ending.PEER, CloseReason.PEER_CLOSED)).isPositive();
        assertThat(tally.closed(Ending.PEER)).isEqualTo(tally.opened());
    }

    @Test
    void withoutRedisTimeoutEvictedConnectionsEndByTheFallbackAndLeaveNoTimeWait() throws Exception {
        TallyListener tally = run(0, Retirement.awaitPeer(Duration.ofMillis(500)), Duration.ofMillis(300), 2);
        assertThat(tally.closed(Ending.RESET)).as("drained in vain, then the fallback: " + tally).isPositive();
        assertThat(tally.closed(Ending.PEER) + tally.closed(Ending.RESET)).as(tally.toString()).isEqualTo(tally.opened());
    }

    private static TallyListener run(int redisTimeoutSeconds, Retirement retirement, Duration evictAfterIdle, int bursts) throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("jedis").retirement(retirement).listener(tally).build();
        try (RedisServer redis = RedisServer.start(redisTimeoutSeconds)) {
            JedisPoolConfig config = new JedisPoolConfig();
            config.setMaxTotal(THREADS);
            config.setMaxIdle(THREADS);
            config.setMinIdle(0);
            config.setTestOnBorrow(true);
            config.setTestWhileIdle(false); // a PING every eviction run would keep every connection busy
            config.setTimeBetweenEvictionRuns(Duration.ofMillis(100));
            config.setMinEvictableIdleDuration(evictAfterIdle);
            config.setNumTestsPerEvictionRun(-1); // all idle connections each run
            JedisSocketFactory jedisSockets = () -> connect(sockets, redis.address());
            JedisFactory factory = new JedisFactory(jedisSockets, DefaultJedisClientConfig.builder().build()) {
            };
            AtomicInteger failed = new AtomicInteger();
            CloseWaitAges closeWait;
            try (JedisPool pool = new JedisPool(config, factory);
                 CloseWaitAges ages = CloseWaitAges.sample(redis.address(), Duration.ofMillis(50))) {
                closeWait = ages;
                ExecutorService threads = Executors.newFixedThreadPool(THREADS);
                try {
                    for (int burst = 0; burst < bursts; burst++) {
                        Future<?>[] ops = new Future<?>[OPS / bursts];
                        for (int i = 0; i < ops.length; i++) {
                            String key = "k" + (i % 64);
                            ops[i] = threads.submit(() -> {
                                try (Jedis jedis = pool.getResource()) {
                                    jedis.set(key, "v");
                                    if (!"v".equals(jedis.get(key))) {
                                        failed.incrementAndGet();
                                    }
                                } catch (RuntimeException e) {
                                    failed.incrementAndGet();
                                }
                            });
                        }
                        for (Future<?> f : ops) {
                            f.get(60, TimeUnit.SECONDS);
                        }
                        // The pool's eviction empties it, and every closed connection ends
                        // (the server's close, or the drain timeout's fallback); the sampler
                        // follows every CLOSE_WAIT meanwhile.
                        await().atMost(Duration.ofSeconds(20)).until(() -> pool.getNumIdle() == 0 && pool.getNumActive() == 0
                                && sockets.stats().draining() == 0 && sockets.stats().active() == 0);
                    }
                } finally {
                    threads.shutdownNow();
                }
            }
            System.out.println("Jedis, redis timeout " + redisTimeoutSeconds + " s: opened=" + tally.opened()
                    + " peer=" + tally.closed(Ending.PEER) + " (server closed while idle: " + tally.closed(CloseReason.PEER_CLOSED) + ")"
                    + " reset=" + tally.closed(Ending.RESET) + " local=" + tally.closed(Ending.LOCAL)
                    + " kernel TIME_WAIT=" + Kernel.clientTimeWait(redis.address()) + " CLOSE_WAIT=" + Kernel.clientCloseWait(redis.address())
                    + " failed=" + failed.get() + " " + closeWait);
            assertThat(failed.get()).isZero();
            // The watcher answers a server's close within its delay (100 ms) and tick (20 ms); 2 s
            // leaves room for a loaded machine, yet a CLOSE_WAIT left to the pool's own eviction
            // would last until it (3 s after Redis' close when the pool evicts after 4 s idle).
            assertThat(closeWait.samples()).as("kernel samples over the run").isGreaterThan(10);
            assertThat(closeWait.oldest()).as("oldest client CLOSE_WAIT: " + closeWait).isLessThan(CLOSE_WAIT_BOUND);
            assertThat(tally.opened()).isPositive();
            assertThat(tally.closed(Ending.LOCAL)).as("timewait.caused: " + tally).isZero();
            assertThat(Kernel.clientTimeWait(redis.address())).as("kernel client TIME_WAIT = timewait.caused").isEqualTo(tally.closed(Ending.LOCAL));
            assertThat(Kernel.clientCloseWait(redis.address())).isZero();
            // Closed by the pool (RETIRED) or by Redis while idle (PEER_CLOSED).
            assertThat(tally.closed(CloseReason.RETIRED) + tally.closed(CloseReason.PEER_CLOSED)).isEqualTo(tally.opened());
        }
        return tally;
    }

    /** What a user's {@code JedisSocketFactory} does: a factory socket, options, connect. */
    private static Socket connect(CloseOwningSocketFactory sockets, InetSocketAddress address) {
        Socket s = null;
        try {
            s = sockets.createSocket();
            s.setTcpNoDelay(true);
            s.setKeepAlive(true);
            s.setSoLinger(true, 0); // as Jedis' own factory does: recorded, not applied
            s.connect(address, 2_000);
            s.setSoTimeout(2_000);
            return s;
        } catch (IOException e) {
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // connect failed; nothing to end
                }
            }
            throw new JedisConnectionException(e);
        }
    }
}
