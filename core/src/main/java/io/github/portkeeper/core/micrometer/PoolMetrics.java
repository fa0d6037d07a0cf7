package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.PortBudgetSnapshot;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.internal.EndpointAddresses;
import io.github.portkeeper.core.internal.Listeners;
import io.github.portkeeper.core.internal.ServedLeaseListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Binds a {@link Pool}'s meters to a Micrometer registry. Meter names and tags are part of
 * Portkeeper's public contract (see docs/metrics.md):
 *
 * <pre>{@code
 * new PoolMetrics(pool).bindTo(registry);                          // endpoint tag on
 * PoolMetrics.builder(pool).endpointTag(false).build().bindTo(registry);
 * }</pre>
 *
 * <p>Every meter carries {@code pool=<name>}; per-endpoint meters also {@code endpoint=host:port}
 * unless turned off for high-cardinality setups. The kernel gauges ({@code portkeeper.tcp.*}) are
 * registered only where the kernel probe is available (Linux).
 *
 * <p>A closed pool's meters stay readable (with what its close counted) until a pool of the same
 * name is bound to the same registry: that binding first removes them, so that the pool built
 * again (a refreshed bean, a rebuilt client) reports through meters of its own, as a registry
 * hands back the meter already registered under an ID. A pool whose close has begun counts as
 * closed. While another pool of that name is live and bound to that registry, they are left in
 * place: the registry handed that pool the same meters, so they are its meters too (give pools
 * bound to one registry names of their own).
 *
 * <p>Bind to one registry only (a composite registry serves several backends). Thread-safe.
 */
public final class PoolMetrics implements MeterBinder {

    private static final Duration KERNEL_SNAPSHOT_TTL = Duration.ofSeconds(1);
    private static final Runnable NOTHING = () -> { };

    private final Source pool;
    private final boolean endpointTag;
    private final KernelProbe probe;
    private final ConcurrentHashMap<Endpoint, EndpointMeters> perEndpoint = new ConcurrentHashMap<>();
    /** Per endpoint, its addresses for the kernel gauges: looked up off the scraping thread, and again as the JVM's DNS cache expires. */
    private final ConcurrentHashMap<Endpoint, EndpointAddresses> addresses = new ConcurrentHashMap<>();
    private final java.util.Set<String> gaugedEndpointTags = ConcurrentHashMap.newKeySet();
    private final java.util.Set<String> gaugedBudgetTags = ConcurrentHashMap.newKeySet();
    /** Meters registered per endpoint tag value, and how many live endpoints share it, to drop them when the pool forgets the endpoints. */
    private final ConcurrentHashMap<String, List<io.micrometer.core.instrument.Meter>> metersByTag = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Integer> endpointsByTag = new ConcurrentHashMap<>();
    /**
     * Taken to register an endpoint's meters and to drop them, never by an event for an endpoint
     * whose meters exist: without it an endpoint leased again while its meters were being dropped
     * got back the very meters about to leave the registry, and counted into them for good.
     */
    private final ReentrantLock endpointMetersLock = new ReentrantLock();
    /** Meters of the whole pool (no endpoint tag), removed when the pool closes. */
    private final List<io.micrometer.core.instrument.Meter> poolMeters = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The pool has closed: no new meters; set under {@link #endpointMetersLock}. */
    private volatile boolean unbound;
    /**
     * Per registry (a weak key), its live bindings and the meter IDs of its closed pools, for the
     * next binding of the same pool name to remove. Taken before an {@link #endpointMetersLock},
     * never while holding one.
     */
    private static final Map<MeterRegistry, Bindings> BOUND = new java.util.WeakHashMap<>();
    private volatile EndpointMeters detached;
    private final LongAdder leasesServed = new LongAdder();
    private final LongAdder timeWaitCaused = new LongAdder();
    private final LongAdder avoided = new LongAdder();
    private volatile MeterRegistry registry;
    private volatile SocketTable snapshot;
    private volatile long snapshotAt;

    /**
     * Metrics for {@code pool} with the endpoint tag on and the Linux kernel probe.
     *
     * @param pool the pool to measure
     */
    public PoolMetrics(Pool<?> pool) {
        this(builder(pool));
    }

    private PoolMetrics(Builder b) {
        this.pool = b.pool;
        this.endpointTag = b.endpointTag;
        this.probe = b.probe;
    }

    /**
     * Options for the metrics of {@code pool}.
     *
     * @param pool the pool to measure
     * @return a builder with the endpoint tag on and the Linux kernel probe
     */
    public static Builder builder(Pool<?> pool) {
        return new Builder(Source.of(Objects.requireNonNull(pool, "pool")));
    }

    /**
     * Metrics for the sockets of a close-owning socket factory, with the endpoint tag on and the
     * Linux kernel probe: the same meters as a pool's, {@code pool=<factory name>}. The
     * {@code portkeeper.connections} gauges are per factory (it does not track state per
     * endpoint); {@code portkeeper.leases} counts what a client integration reports.
     *
     * @param factory the factory
     * @return the binding, to {@link #bindTo} a registry
     */
    public static PoolMetrics of(CloseOwningSocketFactory factory) {
        return builder(factory).build();
    }

    /**
     * Options for the metrics of a close-owning socket factory's sockets.
     *
     * @param factory the factory
     * @return a builder
     */
    public static Builder builder(CloseOwningSocketFactory factory) {
        return new Builder(Source.of(Objects.requireNonNull(factory, "factory")));
    }

    /**
     * Registers the meters with {@code registry} and starts counting the pool's events.
     *
     * @param registry where the meters are registered
     * @throws IllegalStateException if this binding is already bound to a registry
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        synchronized (this) {
            if (this.registry != null) {
                throw new IllegalStateException("PoolMetrics of pool '" + pool.name() + "' is already bound to a registry");
            }
            this.registry = registry;
        }
        Bindings.take(registry, this);
        Tags tags = Tags.of("pool", pool.name());
        poolMeters.add(FunctionCounter.builder("portkeeper.timewait.avoided", avoided, LongAdder::doubleValue)
                .description("TIME_WAIT sockets a one-connection-per-request client would have left on this host and this pool did not:"
                        + " leases served on reused connections plus connections that ended without a local FIN")
                .tags(tags).register(registry));
        if (!endpointTag || !pool.statsPerEndpoint()) {
            registerStateGauges(registry, tags, null);
        }
        if (pool.budgetEnabled() && !endpointTag) {
            poolMeters.add(Gauge.builder("portkeeper.ports.budget.used", pool, p -> p.portBudget().maxUsedRatio())
                    .description("Share of the port budget in use (the fullest endpoint)")
                    .tags(tags).register(registry));
        }
        if (probe.isAvailable()) {
            poolMeters.add(Gauge.builder("portkeeper.tcp.timewait", this, m -> m.kernelCount(TcpState.TIME_WAIT))
                    .description("Kernel-observed TIME_WAIT sockets from this host to the pool's endpoints")
                    .tags(tags).register(registry));
            poolMeters.add(Gauge.builder("portkeeper.tcp.closewait", this, m -> m.kernelCount(TcpState.CLOSE_WAIT))
                    .description("Kernel-observed CLOSE_WAIT sockets from this host to the pool's endpoints")
                    .tags(tags).register(registry));
        }
        pool.addListener(new Recorder());
        for (Endpoint e : pool.endpoints()) {
            meters(e);
        }
        if (pool.isClosed()) {
            unbind(); // closed before the listener was added: no close event comes
        }
    }

    /**
     * The pool has closed: its meters stay (a last scrape reads what the close counted, and a
     * connection given back later still counts in them) until a binding of the same pool name
     * to the same registry removes them. No new meter is registered from now on.
     */
    private void unbind() {
        synchronized (BOUND) {
            Bindings b = BOUND.get(registry);
            if (b != null) {
                b.retire(this);
            } else {
                closedIds();
            }
        }
    }

    /** Stops registering meters, and returns the IDs of those registered. */
    private java.util.Set<io.micrometer.core.instrument.Meter.Id> closedIds() {
        java.util.Set<io.micrometer.core.instrument.Meter.Id> ids = new java.util.HashSet<>();
        endpointMetersLock.lock();
        try {
            unbound = true; // from here perEndpoint and the meter lists no longer change
            for (io.micrometer.core.instrument.Meter meter : poolMeters) {
                ids.add(meter.getId());
            }
            for (EndpointMeters m : perEndpoint.values()) {
                for (io.micrometer.core.instrument.Meter meter : m.all()) {
                    ids.add(meter.getId());
                }
            }
            for (List<io.micrometer.core.instrument.Meter> meters : metersByTag.values()) {
                for (io.micrometer.core.instrument.Meter meter : meters) {
                    ids.add(meter.getId());
                }
            }
        } finally {
            endpointMetersLock.unlock();
        }
        return ids;
    }

    /**
     * One registry's live bindings (weakly: a pool dropped without a close takes its binding
     * along) and the meter IDs its closed pools left. Guarded by {@link #BOUND}.
     */
    private static final class Bindings {

        private final java.util.Set<PoolMetrics> live = java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>());
        private final java.util.Set<io.micrometer.core.instrument.Meter.Id> closed = new java.util.HashSet<>();

        /**
         * Enters {@code binding} as live in {@code r}, having first removed the meters closed
         * pools of its name left there, unless a live pool of that name is bound to {@code r}:
         * the registry handed that pool the same meters (one ID, one meter), so they are its
         * meters too. A pool whose close has begun counts as closed here, though its binding
         * has not heard of the close yet: else a pool bound meanwhile would get its gauges.
         * The meters leave the registry under the lock, so no binding of the name registers
         * (and gets back) one of them between the decision and the removal.
         */
        static void take(MeterRegistry r, PoolMetrics binding) {
            String name = binding.pool.name();
            synchronized (BOUND) {
                Bindings b = BOUND.computeIfAbsent(r, k -> new Bindings());
                boolean shared = false;
                for (PoolMetrics other : new ArrayList<>(b.live)) {
                    if (other.pool.name().equals(name)) {
                        if (other.pool.isClosed()) {
                            b.retire(other);
                        } else {
                            shared = true;
                        }
                    }
                }
                if (!shared) {
                    for (java.util.Iterator<io.micrometer.core.instrument.Meter.Id> it = b.closed.iterator(); it.hasNext();) {
                        io.micrometer.core.instrument.Meter.Id id = it.next();
                        if (name.equals(id.getTag("pool"))) {
                            it.remove();
                            r.remove(id);
                        }
                    }
                }
                b.live.add(binding);
            }
        }

        /** {@code binding}'s pool has closed: its meters are left for the next binding of its name to remove. */
        void retire(PoolMetrics binding) {
            java.util.Set<io.micrometer.core.instrument.Meter.Id> ids = binding.closedIds();
            if (live.remove(binding)) {
                closed.addAll(ids);
            }
        }
    }

    /**
     * Leases served so far (reused plus new), as counted by this binding since it was bound.
     *
     * @return the count
     */
    public long leasesServed() {
        return leasesServed.sum();
    }

    /**
     * Connections that ended with a local FIN so far, each a TIME_WAIT socket on this host.
     *
     * @return the count since the binding was bound
     */
    public long timeWaitCaused() {
        return timeWaitCaused.sum();
    }

    /**
     * The value of {@code portkeeper.timewait.avoided}: TIME_WAIT sockets a
     * one-connection-per-request client would have left and this pool did not.
     *
     * @return the count since the binding was bound
     */
    public long timeWaitAvoided() {
        return avoided.sum();
    }

    private void registerStateGauges(MeterRegistry registry, Tags tags, String endpointTagValue) {
        if (endpointTagValue != null && !gaugedEndpointTags.add(endpointTagValue)) {
            return;
        }
        for (String state : new String[] {"active", "idle", "draining"}) {
            Gauge g = Gauge.builder("portkeeper.connections", pool, p -> stateCount(p, endpointTagValue, state))
                    .description("Connections by state")
                    .tags(tags.and("state", state)).register(registry);
            if (endpointTagValue != null) {
                tagMeters(endpointTagValue).add(g);
            } else {
                poolMeters.add(g);
            }
        }
    }

    /**
     * Connections in {@code state} for the endpoint tag value {@code tag} (null: the whole pool).
     * Endpoints that differ only by qualifier (TLS settings, identity) share a tag value, so the
     * gauge sums them, from one {@link Pool#stats()}: a connection moving between two of them
     * ({@link io.github.portkeeper.core.Lease#moveTo}) is counted once, as there, not once per
     * endpoint read.
     */
    private static double stateCount(Source pool, String tag, String state) {
        PoolStats all = pool.stats();
        if (tag == null) {
            return "active".equals(state) ? all.active() : "idle".equals(state) ? all.idle() : all.draining();
        }
        int sum = 0;
        for (Map.Entry<Endpoint, PoolStats.EndpointStats> e : all.endpoints().entrySet()) {
            if (e.getKey().toString().equals(tag)) {
                PoolStats.EndpointStats s = e.getValue();
                sum += "active".equals(state) ? s.active() : "idle".equals(state) ? s.idle() : s.draining();
            }
        }
        return sum;
    }

    private static double budgetRatio(Source pool, String tag) {
        double max = 0;
        for (Map.Entry<Endpoint, PortBudgetSnapshot.EndpointBudget> e : pool.portBudget().endpoints().entrySet()) {
            if (e.getKey().toString().equals(tag)) {
                max = Math.max(max, e.getValue().usedRatio());
            }
        }
        return max;
    }

    private double kernelCount(TcpState state) {
        SocketTable table = snapshot;
        long now = System.nanoTime();
        if (table == null || now - snapshotAt > KERNEL_SNAPSHOT_TTL.toNanos()) {
            table = probe.snapshot();
            snapshot = table;
            snapshotAt = now;
        }
        List<InetSocketAddress> remotes = new ArrayList<>();
        long ticks = pool.now();
        for (Endpoint e : pool.endpoints()) {
            // A name being looked up (the first time, or again after 30 s without an answer)
            // is left out of this scrape: a scrape never waits for DNS.
            List<InetSocketAddress> resolved = addresses.computeIfAbsent(e, k -> new EndpointAddresses())
                    .current(e, ticks, NOTHING);
            if (resolved != null) {
                remotes.addAll(resolved);
            }
        }
        return table.countToRemotes(state, remotes);
    }

    private EndpointMeters meters(Endpoint e) {
        EndpointMeters m = perEndpoint.get(e);
        return m != null ? m : registerOnce(e);
    }

    /**
     * Where an event for an endpoint without meters counts once the pool has closed (an event
     * racing the close): meters in no registry, so nothing is registered again.
     */
    private EndpointMeters detached() {
        EndpointMeters d = detached;
        if (d == null) {
            d = new EndpointMeters(new io.micrometer.core.instrument.simple.SimpleMeterRegistry(), Tags.empty());
            detached = d;
        }
        return d;
    }

    /**
     * Registers outside the map's own compute: {@link #forget} removes from the map while holding
     * the lock, so taking the lock inside a compute would deadlock against it.
     */
    private EndpointMeters registerOnce(Endpoint e) {
        endpointMetersLock.lock();
        try {
            EndpointMeters m = perEndpoint.get(e);
            if (m == null) {
                if (unbound) {
                    return detached(); // an event racing the pool's close
                }
                m = register(e);
                perEndpoint.put(e, m);
            }
            return m;
        } finally {
            endpointMetersLock.unlock();
        }
    }

    private EndpointMeters register(Endpoint e) {
        MeterRegistry r = registry;
        Tags tags = Tags.of("pool", pool.name());
        if (endpointTag) {
            tags = tags.and("endpoint", e.toString());
            endpointsByTag.merge(e.toString(), 1, Integer::sum);
            if (pool.statsPerEndpoint()) {
                registerStateGauges(r, tags, e.toString());
            }
            if (pool.budgetEnabled() && gaugedBudgetTags.add(e.toString())) {
                String tag = e.toString();
                tagMeters(tag).add(Gauge.builder("portkeeper.ports.budget.used", pool, p -> budgetRatio(p, tag))
                        .description("Share of the port budget in use toward the endpoint (0..1)")
                        .tags(tags).register(r));
            }
        }
        EndpointMeters m = new EndpointMeters(r, tags);
        if (endpointTag) {
            tagMeters(e.toString()).addAll(m.all());
        }
        return m;
    }

    private List<io.micrometer.core.instrument.Meter> tagMeters(String tag) {
        return metersByTag.computeIfAbsent(tag, t -> new java.util.concurrent.CopyOnWriteArrayList<>());
    }

    /**
     * The pool forgot {@code e}: drop its meters (once no live endpoint shares its tag value),
     * so the registry follows the live endpoints, not every endpoint ever seen.
     */
    private void forget(Endpoint e) {
        if (pool.endpoints().contains(e)) {
            // Back already (a lease since the removal, which housekeeping reports a moment
            // later): its meters are live again; dropping them would restart its counters.
            return;
        }
        endpointMetersLock.lock();
        try {
            addresses.remove(e);
            EndpointMeters m = perEndpoint.remove(e);
            if (m == null) {
                return;
            }
            // Looked at again after the removal from the map: an event of a lease that brought the
            // endpoint back either found the meters before that removal, and then the pool's map
            // shows the endpoint here, or missed them and waits on the lock for new ones.
            if (pool.endpoints().contains(e)) {
                perEndpoint.put(e, m);
                return;
            }
            if (!endpointTag) {
                return;
            }
            String tag = e.toString();
            Integer left = endpointsByTag.computeIfPresent(tag, (t, n) -> n > 1 ? n - 1 : null);
            if (left != null) {
                return;
            }
            gaugedEndpointTags.remove(tag);
            gaugedBudgetTags.remove(tag);
            List<io.micrometer.core.instrument.Meter> meters = metersByTag.remove(tag);
            if (meters != null) {
                for (io.micrometer.core.instrument.Meter meter : meters) {
                    registry.remove(meter);
                }
            }
        } finally {
            endpointMetersLock.unlock();
        }
    }

    /** Pre-registered meters of one endpoint, so events cost a map lookup and an increment. */
    private static final class EndpointMeters {
        final Counter opened;
        final Counter closedPeer;
        final Counter closedLocal;
        final Counter closedReset;
        final Counter closedFailed;
        final Counter closedAborted;
        final Counter leasesReused;
        final Counter leasesNew;
        final Counter leasesTimeout;
        final Counter leasesRejected;
        final Timer leaseWait;
        final Counter timeWaitCaused;
        final Counter leaksSuspected;

        EndpointMeters(MeterRegistry r, Tags tags) {
            opened = Counter.builder("portkeeper.connections.opened").description("Connections opened").tags(tags).register(r);
            closedPeer = closed(r, tags, "peer");
            closedLocal = closed(r, tags, "local");
            closedReset = closed(r, tags, "reset");
            closedFailed = closed(r, tags, "failed");
            closedAborted = closed(r, tags, "aborted");
            leasesReused = lease(r, tags, "reused");
            leasesNew = lease(r, tags, "new");
            leasesTimeout = lease(r, tags, "timeout");
            leasesRejected = lease(r, tags, "rejected");
            // A client-side p99 (one more series per endpoint) so the wait shows without histograms;
            // users who want aggregatable buckets turn the percentile histogram on with a MeterFilter.
            leaseWait = Timer.builder("portkeeper.lease.wait").description("Time waiting for a lease")
                    .publishPercentiles(0.99).tags(tags).register(r);
            timeWaitCaused = Counter.builder("portkeeper.timewait.caused")
                    .description("Client TIME_WAIT sockets caused by this pool (connections closed by a local FIN)")
                    .tags(tags).register(r);
            leaksSuspected = Counter.builder("portkeeper.leaks.suspected")
                    .description("Leases held longer than the leak detection threshold (counted once per lease)")
                    .tags(tags).register(r);
        }

        List<io.micrometer.core.instrument.Meter> all() {
            return List.of(opened, closedPeer, closedLocal, closedReset, closedFailed, closedAborted, leasesReused, leasesNew,
                    leasesTimeout, leasesRejected, leaseWait, timeWaitCaused, leaksSuspected);
        }

        private static Counter closed(MeterRegistry r, Tags tags, String by) {
            return Counter.builder("portkeeper.connections.closed").description("Connections closed, by which side closed first")
                    .tags(tags.and("closed.by", by)).register(r);
        }

        private static Counter lease(MeterRegistry r, Tags tags, String outcome) {
            return Counter.builder("portkeeper.leases").description("Lease results")
                    .tags(tags.and("outcome", outcome)).register(r);
        }
    }

    private final class Recorder implements ServedLeaseListener, Listeners.ClosingListener {

        @Override
        public void poolClosed() {
            unbind();
        }

        @Override
        public void endpointRemoved(Endpoint endpoint) {
            if (!unbound) {
                forget(endpoint);
            }
        }

        @Override
        public void connectionOpened(Endpoint endpoint, long connectNanos) {
            meters(endpoint).opened.increment();
        }

        @Override
        public void connectFailed(Endpoint endpoint, Throwable cause) {
            meters(endpoint).closedFailed.increment();
        }

        @Override
        public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
            EndpointMeters m = meters(endpoint);
            (reused ? m.leasesReused : m.leasesNew).increment();
            m.leaseWait.record(waitNanos, TimeUnit.NANOSECONDS);
            leasesServed.increment();
            if (reused) {
                avoided.increment();
            }
        }

        @Override
        public void leaseTimedOut(Endpoint endpoint, long waitNanos) {
            EndpointMeters m = meters(endpoint);
            m.leasesTimeout.increment();
            m.leaseWait.record(waitNanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void leaseRejected(Endpoint endpoint, Throwable reason) {
            meters(endpoint).leasesRejected.increment();
        }

        @Override
        public void leakSuspected(Endpoint endpoint, Duration heldFor, Throwable leasedAt) {
            meters(endpoint).leaksSuspected.increment();
        }

        /**
         * A connection that ended without a TIME_WAIT here avoided one: the one a client opening a
         * connection per request would have left for the request it served first (later requests
         * count as reused leases). A connection discarded as broken counts nothing: its last lease
         * (already counted if reused) served no request, so counting the close too would count
         * one request twice, and {@code avoided} could exceed the requests served. Nor does one
         * that never served a lease (it finished connecting as the pool closed).
         */
        private void countAvoided(CloseReason reason, boolean servedLease) {
            if (servedLease && reason != CloseReason.BROKEN) {
                avoided.increment();
            }
        }

        @Override
        public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
            connectionClosed(endpoint, ending, reason, true);
        }

        @Override
        public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason, boolean servedLease) {
            EndpointMeters m = meters(endpoint);
            switch (ending) {
                case PEER:
                    m.closedPeer.increment();
                    countAvoided(reason, servedLease);
                    break;
                case RESET:
                    m.closedReset.increment();
                    countAvoided(reason, servedLease);
                    break;
                case ABORTED:
                    m.closedAborted.increment();
                    countAvoided(reason, servedLease); // reset under a holder that gave up on it: broken, like PEER and RESET
                    break;
                case LOCAL:
                    m.closedLocal.increment();
                    m.timeWaitCaused.increment();
                    timeWaitCaused.increment();
                    break;
                default:
                    m.closedFailed.increment();
            }
        }
    }

    /** Options for {@link PoolMetrics}. Not thread-safe. */
    public static final class Builder {

        private final Source pool;
        private boolean endpointTag = true;
        private KernelProbe probe = KernelProbe.linux();

        private Builder(Source pool) {
            this.pool = pool;
        }

        /**
         * Tag per-endpoint meters with {@code endpoint=host:port} (default on); off aggregates
         * them per pool, for pools that talk to very many endpoints.
         *
         * @param endpointTag whether per-endpoint meters carry the endpoint tag
         * @return this builder
         */
        public Builder endpointTag(boolean endpointTag) {
            this.endpointTag = endpointTag;
            return this;
        }

        /**
         * The kernel probe behind the {@code portkeeper.tcp.*} gauges. Default
         * {@link KernelProbe#linux()}; without an available probe those gauges are not registered.
         *
         * @param probe the probe; not {@code null}
         * @return this builder
         */
        public Builder kernelProbe(KernelProbe probe) {
            this.probe = Objects.requireNonNull(probe, "probe");
            return this;
        }

        /**
         * Builds the binding; nothing is registered until {@link PoolMetrics#bindTo}.
         *
         * @return the binding
         */
        public PoolMetrics build() {
            return new PoolMetrics(this);
        }
    }

    /** What is measured: a pool, or the sockets of a close-owning socket factory. */
    private interface Source {

        String name();

        void addListener(PoolListener listener);

        java.util.Set<Endpoint> endpoints();

        PoolStats stats();

        /** Whether {@link #stats()} has figures per endpoint (a factory keeps no state per endpoint). */
        boolean statsPerEndpoint();

        boolean budgetEnabled();

        PortBudgetSnapshot portBudget();

        /** The pool's ticker time. */
        long now();

        /** Whether the pool has closed (a factory is never closed for its meters). */
        boolean isClosed();

        static Source of(Pool<?> pool) {
            return new Source() {
                @Override public String name() { return pool.name(); }
                @Override public void addListener(PoolListener listener) { pool.addListener(listener); }
                @Override public java.util.Set<Endpoint> endpoints() { return pool.endpoints(); }
                @Override public PoolStats stats() { return pool.stats(); }
                @Override public boolean statsPerEndpoint() { return true; }
                @Override public boolean budgetEnabled() { return pool.config().portBudget().isEnabled(); }
                @Override public PortBudgetSnapshot portBudget() { return pool.portBudget(); }
                @Override public long now() { return pool.config().ticker().read(); }
                @Override public boolean isClosed() { return pool.isClosed(); }
            };
        }

        static Source of(CloseOwningSocketFactory factory) {
            return new Source() {
                @Override public String name() { return factory.name(); }
                @Override public void addListener(PoolListener listener) { factory.addListener(listener); }
                @Override public java.util.Set<Endpoint> endpoints() { return factory.endpoints(); }
                @Override public PoolStats stats() { return factory.stats(); }
                @Override public boolean statsPerEndpoint() { return false; }
                @Override public boolean budgetEnabled() { return false; }
                @Override public PortBudgetSnapshot portBudget() { throw new UnsupportedOperationException("no port budget"); }
                @Override public long now() { return System.nanoTime(); }
                @Override public boolean isClosed() { return false; }
            };
        }
    }
}
