package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.rpc.testing.RedisServer;
import io.github.portkeeper.rpc.testing.RespCodec;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Against a real Redis (its own {@code redis-server} process on a free loopback port): the RPC
 * client serves a real workload over at most its per-endpoint limit of connections and leaves no
 * TIME_WAIT on this host; Redis's {@code timeout} closing idle clients is met by passive closes;
 * retirement says {@code QUIT} and Redis closes first. The kernel is the judge.
 */
class RedisAcceptanceTest {

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);

    private RedisServer redis;
    private RpcClient<List<String>, Object> client;
    private final TallyListener tally = new TallyListener();

    @AfterEach
    void stop() throws InterruptedException {
        try {
            if (client != null) {
                assertThat(client.pool().stats().active()).as("leased connections").isZero();
                client.close();
            }
        } finally {
            if (redis != null) {
                redis.close();
            }
        }
    }

    @Test
    void tenThousandCallsAtConcurrencyEightAreCorrectOverAtMostEightConnectionsAndLeaveNoTimeWait() throws Exception {
        Kernel.assumeLinux();
        redis = RedisServer.start(0);
        Endpoint endpoint = Endpoint.of(redis.host(), redis.port());
        int threads = 8;
        int callsPerThread = 1250;
        client = RpcClient.builder(new RespCodec())
                .poolConfig(PoolConfig.builder().name("redis").maxPerEndpoint(threads).listener(tally).build())
                .build();

        Set<Long> increments = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Integer>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            results.add(pool.submit(() -> {
                start.await();
                int incrs = 0;
                for (int i = 0; i < callsPerThread; i++) {
                    switch (i % 3) {
                        case 0:
                            assertThat(call(endpoint, "SET", key(thread, i), value(thread, i))).isEqualTo("OK");
                            break;
                        case 1:
                            assertThat(call(endpoint, "GET", key(thread, i - 1))).isEqualTo(value(thread, i - 1));
                            break;
                        default:
                            Object n = call(endpoint, "INCR", "counter");
                            assertThat(n).isInstanceOf(Long.class);
                            assertThat(increments.add((Long) n)).as("INCR result %s seen twice", n).isTrue();
                            incrs++;
                    }
                }
                return incrs;
            }));
        }
        long began = System.nanoTime();
        start.countDown();
        pool.shutdown();
        assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).as("workload finished").isTrue();
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
        int sum = 0;
        for (Future<Integer> r : results) {
            sum += r.get();
        }
        int incrs = sum;

        assertThat(incrs).isEqualTo(threads * (int) IntStream.range(0, callsPerThread).filter(i -> i % 3 == 2).count());
        assertThat(call(endpoint, "GET", "counter")).isEqualTo(Integer.toString(incrs));
        assertThat(increments).hasSize(incrs).allSatisfy(n -> assertThat(n).isBetween(1L, (long) incrs));

        assertThat(tally.opened()).as("connections opened").isBetween(1L, (long) threads);
        assertThat(infoField(endpoint, "stats", "total_connections_received"))
                .as("connections Redis ever accepted").isBetween(1L, (long) threads);
        int established = Kernel.clientEstablished(redis.address());
        int timeWait = Kernel.clientTimeWait(redis.address());
        assertThat(established).as("the probe sees the pool's connections").isEqualTo(tally.opened());
        assertThat(timeWait).as("client TIME_WAIT toward Redis").isZero();
        assertThat(tally.closed(Ending.LOCAL)).as("connections this host closed first").isZero();
        System.out.printf("redis: %d calls at concurrency %d in %d ms over %d connections; kernel: ESTABLISHED %d, TIME_WAIT %d%n",
                threads * callsPerThread, threads, tookMillis, tally.opened(), established, timeWait);

        client.close();
        assertThat(Kernel.clientTimeWait(redis.address())).as("client TIME_WAIT toward Redis after close").isZero();
        assertThat(Kernel.clientCloseWait(redis.address())).as("CLOSE_WAIT toward Redis after close").isZero();
    }

    @Test
    void redisClosingIdleClientsIsMetByPassiveClosesAndLeavesNoCloseWait() throws Exception {
        Kernel.assumeLinux();
        redis = RedisServer.start(1);
        Endpoint endpoint = Endpoint.of(redis.host(), redis.port());
        client = RpcClient.builder(new RespCodec())
                .poolConfig(PoolConfig.builder().name("redis-idle").maxPerEndpoint(4).listener(tally).build())
                .build();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> results = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            results.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < 100; i++) {
                    assertThat(call(endpoint, "PING")).isEqualTo("PONG");
                }
                return null;
            }));
        }
        start.countDown();
        pool.shutdown();
        assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        for (Future<?> r : results) {
            r.get();
        }
        int opened = (int) tally.opened();
        assertThat(opened).isBetween(1, 4);

        // Redis closes clients idle for more than 1 s (checked ~10 times a second).
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(tally.closedEvents()).as("connections ended").hasSize(opened));
        assertThat(tally.closed(Ending.PEER)).as("ended by the peer's FIN").isEqualTo(opened);
        assertThat(tally.closed(Ending.PEER, CloseReason.PEER_CLOSED)).as("closed by Redis while idle").isPositive();
        assertThat(client.pool().stats().idle()).isZero();
        assertThat(Kernel.clientCloseWait(redis.address())).as("CLOSE_WAIT toward Redis").isZero();
        assertThat(Kernel.clientTimeWait(redis.address())).as("client TIME_WAIT toward Redis").isZero();
    }

    @Test
    void retirementSaysQuitAndRedisClosesFirst() throws Exception {
        Kernel.assumeLinux();
        redis = RedisServer.start(0); // Redis never closes on its own: only QUIT makes it close
        Endpoint endpoint = Endpoint.of(redis.host(), redis.port());
        client = RpcClient.builder(new RespCodec())
                .poolConfig(PoolConfig.builder().name("redis-quit").maxPerEndpoint(2)
                        .maxLifetime(Duration.ofMillis(300)).lifetimeJitter(Duration.ZERO).listener(tally).build())
                .build();
        assertThat(client.pool().config().retirement().policy()).isEqualTo(Retirement.Policy.REQUEST_PEER_CLOSE);

        // An explicit retirement: the lease holder asks for it.
        assertThat(call(endpoint, "PING")).isEqualTo("PONG");
        try (Lease<?> lease = client.pool().lease(endpoint)) {
            lease.retire();
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(tally.closed(Ending.PEER, CloseReason.RETIRED)).isEqualTo(1));

        // Retirement at the end of a connection's lifetime.
        assertThat(call(endpoint, "SET", "k", "v")).isEqualTo("OK");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(tally.closed(Ending.PEER, CloseReason.LIFETIME)).isEqualTo(1));

        assertThat(tally.opened()).isEqualTo(2);
        assertThat(tally.closedEvents()).allSatisfy(c -> assertThat(c.ending()).isEqualTo(Ending.PEER));
        assertThat(Kernel.clientTimeWait(redis.address())).as("client TIME_WAIT toward Redis").isZero();
        assertThat(Kernel.clientCloseWait(redis.address())).as("CLOSE_WAIT toward Redis").isZero();
    }

    @Test
    void theKernelProbeSeesTheTimeWaitOfAClientThatClosesFirst() throws Exception {
        Kernel.assumeLinux();
        redis = RedisServer.start(0);
        try (java.net.Socket naive = new java.net.Socket(redis.host(), redis.port())) {
            naive.getOutputStream().write("PING\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(new String(naive.getInputStream().readNBytes(7), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("+PONG\r\n");
        } // the client's FIN goes first
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(Kernel.clientTimeWait(redis.address())).as("the naive client's TIME_WAIT").isEqualTo(1));
    }

    @Test
    void anErrorReplyIsAResponseAndTheConnectionStaysInUse() throws Exception {
        redis = RedisServer.start(0);
        Endpoint endpoint = Endpoint.of(redis.host(), redis.port());
        client = RpcClient.builder(new RespCodec())
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .build();
        assertThat(call(endpoint, "SET", "s", "text")).isEqualTo("OK");
        assertThat(call(endpoint, "INCR", "s")).isInstanceOfSatisfying(RespCodec.RespError.class,
                e -> assertThat(e.message()).startsWith("ERR"));
        assertThat(call(endpoint, "GET", "s")).isEqualTo("text");
        assertThat(tally.opened()).isEqualTo(1);
    }

    private Object call(Endpoint endpoint, String... command) throws IOException {
        return client.call(endpoint, List.of(command), CALL_TIMEOUT);
    }

    private long infoField(Endpoint endpoint, String section, String field) throws IOException {
        String info = (String) call(endpoint, "INFO", section);
        Matcher m = Pattern.compile("^" + field + ":(\\d+)", Pattern.MULTILINE).matcher(info);
        assertThat(m.find()).as("%s in INFO %s", field, section).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static String key(int thread, int i) {
        return "key:" + thread + ":" + i;
    }

    private static String value(int thread, int i) {
        return "value-" + thread + "-" + i;
    }
}
