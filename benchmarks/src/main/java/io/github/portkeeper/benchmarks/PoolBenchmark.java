package io.github.portkeeper.benchmarks;

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
import org.openjdk.jmh.infra.ThreadParams;

import java.util.concurrent.TimeUnit;

/**
 * Lease and release of an idle connection, the hot path of every pooled request, for Portkeeper
 * and the pools users would otherwise pick. Connections are stubs (no I/O), so only the pools'
 * own bookkeeping is measured; every pool is configured alike (see {@link BenchPool}).
 *
 * <p>Each thread walks the endpoints round-robin from its own starting point, with a per-thread
 * counter, so with several endpoints the traffic spreads over all of them and the only shared
 * state touched is the pool's.
 *
 * <p>Run (see docs/benchmarks.md):
 * {@code java -jar benchmarks/target/benchmarks.jar PoolBenchmark -t 4 -bm thrpt -tu us}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PoolBenchmark {

    /** The pool under test; the same stub workload for each. */
    @State(Scope.Benchmark)
    public static class PoolState {

        @Param({"portkeeper", "httpcore-strict", "httpcore-lax", "httpcore-offlock", "commons-pool2", "stormpot"})
        public String pool;

        /** Endpoints (HttpCore routes, commons-pool2 keys) the traffic is spread over. */
        @Param({"1", "10"})
        public int endpoints;

        BenchPool benchPool;

        @Setup(Level.Trial)
        public void open() {
            benchPool = BenchPool.create(pool, endpoints);
        }

        @TearDown(Level.Trial)
        public void close() throws Exception {
            // Shows that the reuse path was measured: a handful of connections, not one per lease.
            System.out.println("[" + pool + ", " + endpoints + " endpoint(s)] connections opened: "
                    + benchPool.connectionsOpened());
            benchPool.close();
        }
    }

    /** The next endpoint this thread leases from. */
    @State(Scope.Thread)
    public static class Cursor {

        int next;
        int endpoints;

        @Setup(Level.Trial)
        public void start(PoolState state, ThreadParams thread) {
            endpoints = state.endpoints;
            next = thread.getThreadIndex() % endpoints;
        }

        int advance() {
            int current = next;
            next = current + 1 == endpoints ? 0 : current + 1;
            return current;
        }
    }

    @Benchmark
    public void leaseRelease(PoolState state, Cursor cursor, Blackhole blackhole) throws Exception {
        BenchPool pool = state.benchPool;
        int endpoint = cursor.advance();
        Object handle = pool.lease(endpoint);
        blackhole.consume(pool.connection(handle));
        pool.release(endpoint, handle);
    }
}
