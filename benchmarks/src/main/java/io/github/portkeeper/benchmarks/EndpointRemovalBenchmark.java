package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A live endpoint's lease and open+retire, in a fresh pool and in one that served 100,000
 * other endpoints once each and forgot them (their connections retired, the empty endpoints
 * removed by the pool's own scheduled housekeeping, not by a call of the benchmark): the
 * removal must leave nothing behind that slows the endpoints still in use.
 *
 * <p>Run (see docs/benchmarks.md):
 * {@code java -jar benchmarks/target/benchmarks.jar EndpointRemovalBenchmark -bm thrpt -tu us}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class EndpointRemovalBenchmark {

    private static final int GONE = 100_000;
    private static final Duration MAX_IDLE = Duration.ofSeconds(1);

    /** {@code fresh}: a new pool; {@code after-removal}: 100,000 endpoints used once, then forgotten. */
    @Param({"fresh", "after-removal"})
    public String history;

    private final AtomicInteger opened = new AtomicInteger();
    private Pool<StubConnection> pool;
    private final Endpoint live = Endpoint.of("live.example", 8080);

    @Setup(Level.Trial)
    public void open() throws Exception {
        // Stub connections never reached a peer: their closes leave no TIME_WAIT for the port
        // budget's 60 s window, so an emptied endpoint may go after maxIdleTime.
        Connector<StubConnection> connector = new Connector<>() {
            @Override
            public StubConnection connect(Endpoint endpoint) {
                return new StubConnection(opened.incrementAndGet());
            }

            @Override
            public boolean wasEstablished(StubConnection connection) {
                return false;
            }
        };
        pool = Pool.of(connector, PoolConfig.builder().name("removal-benchmark")
                .maxPerEndpoint(BenchPool.MAX_PER_ENDPOINT).maxTotal(2 * GONE).maxIdleTime(MAX_IDLE)
                .portBudget(PortBudget.disabled()).build());
        if (history.equals("after-removal")) {
            for (int i = 0; i < GONE; i++) {
                try (Lease<StubConnection> lease = pool.lease(Endpoint.of("gone-" + i + ".example", 8080))) {
                    lease.connection();
                }
            }
            int retired = pool.retireIdle((connection, idle) -> true);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!pool.endpoints().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(100); // the pool's own housekeeping forgets them after maxIdleTime
            }
            System.out.println("[after-removal] " + retired + " connections retired, endpoints left: "
                    + pool.endpoints().size());
            if (!pool.endpoints().isEmpty()) {
                throw new IllegalStateException(pool.endpoints().size() + " endpoints were never forgotten");
            }
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.close();
    }

    /** Lease and give back an idle connection of the live endpoint (the reuse path). */
    @Benchmark
    public void leaseRelease(Blackhole blackhole) throws Exception {
        try (Lease<StubConnection> lease = pool.lease(live)) {
            blackhole.consume(lease.connection());
        }
    }

    /** Open a connection to the live endpoint and retire it as it is given back. */
    @Benchmark
    public void openRetire(Blackhole blackhole) throws Exception {
        Lease<StubConnection> lease = pool.leaseNew(live, Duration.ofSeconds(60));
        blackhole.consume(lease.connection());
        lease.retire();
        lease.close();
    }
}
