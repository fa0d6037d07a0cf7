package io.github.portkeeper.benchmarks;

/**
 * One pool under test, behind the same three calls so that the benchmark body is identical for
 * every pool. A handle is whatever the pool hands out for one lease (a {@code Lease}, a
 * {@code PoolEntry}, the pooled object itself); adapters add no allocation of their own.
 *
 * <p>Every adapter is configured alike: {@value #MAX_PER_ENDPOINT} connections per endpoint,
 * {@value #MAX_PER_ENDPOINT} × endpoints in total, LIFO reuse where the pool lets it be chosen
 * (Stormpot has no such setting; see {@link StormpotBenchPool}), no validation, no eviction
 * beyond the pool's defaults, a lease timeout far longer than any wait.
 */
interface BenchPool {

    /** Connections per endpoint (HttpCore's route maximum, commons-pool2's maxTotalPerKey). */
    int MAX_PER_ENDPOINT = 16;

    /** Lease timeout: long enough that no lease in a benchmark ever times out. */
    long LEASE_TIMEOUT_SECONDS = 60;

    /** Leases a connection to endpoint number {@code endpoint}, opening one if none is idle. */
    Object lease(int endpoint) throws Exception;

    /** The connection behind {@code handle}. */
    Object connection(Object handle);

    /** Gives the connection back for reuse. */
    void release(int endpoint, Object handle) throws Exception;

    /** Connections the pool opened so far: with reuse working, at most one per thread and endpoint. */
    int connectionsOpened();

    /** Closes the pool after the trial. */
    void close() throws Exception;

    /** The pool named by the benchmark's {@code pool} parameter, for {@code endpoints} endpoints. */
    static BenchPool create(String pool, int endpoints) {
        switch (pool) {
            case "portkeeper":
                return new PortkeeperBenchPool(endpoints);
            case "httpcore-strict":
                return HttpCoreBenchPool.strict(endpoints);
            case "httpcore-lax":
                return HttpCoreBenchPool.lax(endpoints);
            case "httpcore-offlock":
                return HttpCoreBenchPool.offlock(endpoints);
            case "commons-pool2":
                return new CommonsPool2BenchPool(endpoints);
            case "stormpot":
                return new StormpotBenchPool(endpoints);
            default:
                throw new IllegalArgumentException("unknown pool '" + pool + "'");
        }
    }
}
