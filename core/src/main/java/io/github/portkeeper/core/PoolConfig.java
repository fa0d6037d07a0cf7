package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.Nanos;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Immutable pool configuration, built with {@link #builder()} and validated on
 * {@link Builder#build()}: a bad value fails with a message naming the setting, the rule and
 * the value. Safe to share; one config may serve several pools.
 */
public final class PoolConfig {

    private final String name;
    private final int maxPerEndpoint;
    private final int maxTotal;
    private final Duration leaseTimeout;
    private final Duration maxLifetime;
    private final Duration lifetimeJitter;
    /** The jitter as set, or null when derived from the lifetime (so toBuilder() keeps deriving it). */
    private final Duration explicitJitter;
    private final Duration maxIdleTime;
    private final Duration leakDetectionThreshold;
    private final int maxLeasesPerConnection;
    private final Duration housekeepingInterval;
    private final Duration idleTimeoutMargin;
    private final Retirement retirement;
    private final PortBudget portBudget;
    private final ConnectGuard connectGuard;
    private final List<PoolListener> listeners;
    private final Ticker ticker;

    private PoolConfig(Builder b) {
        this.name = b.name;
        this.maxPerEndpoint = b.maxPerEndpoint;
        this.maxTotal = b.maxTotal;
        this.leaseTimeout = b.leaseTimeout;
        this.maxLifetime = b.maxLifetime;
        this.lifetimeJitter = b.lifetimeJitter != null ? b.lifetimeJitter : b.maxLifetime.dividedBy(10);
        this.explicitJitter = b.lifetimeJitter;
        this.maxIdleTime = b.maxIdleTime;
        this.leakDetectionThreshold = b.leakDetectionThreshold;
        this.maxLeasesPerConnection = b.maxLeasesPerConnection;
        this.housekeepingInterval = b.housekeepingInterval;
        this.idleTimeoutMargin = b.idleTimeoutMargin;
        this.retirement = b.retirement;
        this.portBudget = b.portBudget != null ? b.portBudget : PortBudget.defaults();
        this.connectGuard = b.connectGuard;
        this.listeners = List.copyOf(b.listeners);
        this.ticker = b.ticker;
    }

    /**
     * A builder with the defaults documented on each setter.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The default configuration: what {@code builder().build()} gives.
     *
     * @return a configuration with every default
     */
    public static PoolConfig defaults() {
        return builder().build();
    }

    /**
     * A builder starting from this configuration, to change a few settings of a shared one. A
     * lifetime jitter that was derived from the lifetime stays derived.
     *
     * @return a new builder holding this configuration's settings and listeners
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.maxPerEndpoint = maxPerEndpoint;
        b.maxTotal = maxTotal;
        b.leaseTimeout = leaseTimeout;
        b.maxLifetime = maxLifetime;
        b.lifetimeJitter = explicitJitter;
        b.maxIdleTime = maxIdleTime;
        b.leakDetectionThreshold = leakDetectionThreshold;
        b.maxLeasesPerConnection = maxLeasesPerConnection;
        b.housekeepingInterval = housekeepingInterval;
        b.idleTimeoutMargin = idleTimeoutMargin;
        b.retirement = retirement;
        b.portBudget = portBudget;
        b.connectGuard = connectGuard;
        b.listeners.addAll(listeners);
        b.ticker = ticker;
        return b;
    }

    /**
     * The pool's name: the {@code pool} tag of its meters, and part of its error messages.
     *
     * @return the name, never blank
     */
    public String name() {
        return name;
    }

    /**
     * The most connections to one endpoint (leased, idle and being opened; retiring ones do
     * not count).
     *
     * @return the limit, at least 1
     */
    public int maxPerEndpoint() {
        return maxPerEndpoint;
    }

    /**
     * The most connections across all endpoints, counted as for {@link #maxPerEndpoint()}.
     *
     * @return the limit, at least {@link #maxPerEndpoint()}
     */
    public int maxTotal() {
        return maxTotal;
    }

    /**
     * How long a lease waits for a connection before it fails.
     *
     * @return a positive duration
     */
    public Duration leaseTimeout() {
        return leaseTimeout;
    }

    /**
     * Age after which a connection is retired rather than reused.
     *
     * @return a positive duration
     */
    public Duration maxLifetime() {
        return maxLifetime;
    }

    /**
     * The most by which each connection's lifetime is shortened at random, so connections
     * opened together do not retire together.
     *
     * @return a duration from zero to less than {@link #maxLifetime()}; a tenth of it unless set
     */
    public Duration lifetimeJitter() {
        return lifetimeJitter;
    }

    /**
     * Idle time after which a connection is no longer leased and is retired.
     *
     * @return a positive duration
     */
    public Duration maxIdleTime() {
        return maxIdleTime;
    }

    /**
     * How long a lease may be held before it is reported as a suspected leak.
     *
     * @return a duration; zero when leak detection is off
     */
    public Duration leakDetectionThreshold() {
        return leakDetectionThreshold;
    }

    /**
     * Leases a connection may serve before it is retired.
     *
     * @return the budget; zero when connections may serve any number of leases
     */
    public int maxLeasesPerConnection() {
        return maxLeasesPerConnection;
    }

    /**
     * The watch delay: how long a connection stays idle before the idle watcher registers it,
     * and the shortest step between two housekeeping rounds of a pool.
     *
     * @return a positive duration
     */
    public Duration housekeepingInterval() {
        return housekeepingInterval;
    }

    /**
     * Safety margin below a server's idle timeout: connections idle longer than the timeout
     * minus this are no longer leased.
     *
     * @return a duration, zero or more
     */
    public Duration idleTimeoutMargin() {
        return idleTimeoutMargin;
    }

    /**
     * How unwanted connections leave: who closes first, and what happens if the peer does not.
     *
     * @return the retirement policy, never {@code null}
     */
    public Retirement retirement() {
        return retirement;
    }

    /**
     * How many ephemeral ports the pool may tie up per endpoint.
     *
     * @return the budget, never {@code null}
     */
    public PortBudget portBudget() {
        return portBudget;
    }

    /**
     * Checked before every new connection (rate limit, circuit breaker).
     *
     * @return the guard, never {@code null}; {@link ConnectGuard#none()} unless set
     */
    public ConnectGuard connectGuard() {
        return connectGuard;
    }

    /**
     * The listeners that hear the pool's events, in the order they were added.
     *
     * @return an unmodifiable list, possibly empty
     */
    public List<PoolListener> listeners() {
        return listeners;
    }

    /**
     * The time source of connection ages: lifetime, idle expiry and leak detection (lease waits
     * and connect times use {@link System#nanoTime()}).
     *
     * @return the ticker, never {@code null}
     */
    public Ticker ticker() {
        return ticker;
    }

    @Override
    public String toString() {
        return "PoolConfig{name=" + name + ", maxPerEndpoint=" + maxPerEndpoint + ", maxTotal=" + maxTotal
                + ", leaseTimeout=" + leaseTimeout + ", maxLifetime=" + maxLifetime + ", lifetimeJitter=" + lifetimeJitter
                + ", maxIdleTime=" + maxIdleTime + ", leakDetectionThreshold=" + leakDetectionThreshold
                + ", maxLeasesPerConnection=" + maxLeasesPerConnection
                + ", housekeepingInterval=" + housekeepingInterval + ", idleTimeoutMargin=" + idleTimeoutMargin + ", retirement=" + retirement
                + ", portBudget=" + portBudget + "}";
    }

    /** Builds a {@link PoolConfig}. Not thread-safe; {@link #build()} validates every setting. */
    public static final class Builder {

        private String name = "default";
        private int maxPerEndpoint = 8;
        private int maxTotal = 64;
        private Duration leaseTimeout = Duration.ofSeconds(10);
        private Duration maxLifetime = Duration.ofMinutes(30);
        private Duration lifetimeJitter;
        private Duration maxIdleTime = Duration.ofMinutes(2);
        private Duration leakDetectionThreshold = Duration.ZERO;
        private int maxLeasesPerConnection;
        private Duration housekeepingInterval = Duration.ofMillis(10);
        private Duration idleTimeoutMargin = Duration.ofSeconds(1);
        private Retirement retirement = Retirement.defaults();
        private PortBudget portBudget;
        private ConnectGuard connectGuard = ConnectGuard.none();
        private final List<PoolListener> listeners = new ArrayList<>();
        private Ticker ticker = Ticker.system();

        private Builder() {
        }

        /**
         * The pool's name, the {@code pool} tag of its meters. Default {@code "default"}: give
         * each pool of a process its own name once meters are bound, or their figures mix.
         *
         * @param name a non-blank name (checked by {@link #build()})
         * @return this builder
         */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /**
         * Most connections (leased, idle and being opened) to one endpoint. Default 8.
         *
         * @param maxPerEndpoint at least 1 (checked by {@link #build()})
         * @return this builder
         */
        public Builder maxPerEndpoint(int maxPerEndpoint) {
            this.maxPerEndpoint = maxPerEndpoint;
            return this;
        }

        /**
         * Most connections (leased, idle and being opened) across all endpoints. Default 64.
         *
         * @param maxTotal at least 1 and at least {@code maxPerEndpoint} (checked by {@link #build()})
         * @return this builder
         */
        public Builder maxTotal(int maxTotal) {
            this.maxTotal = maxTotal;
            return this;
        }

        /**
         * How long a lease waits for a connection before failing with a
         * {@link LeaseTimeoutException} (or a {@link PortBudgetExhaustedException} if it waited
         * for the port budget and the budget was still spent when the time was up). Default 10 s. A timeout longer than the pool's
         * nanosecond clock holds (about 292 years) waits practically forever.
         *
         * @param leaseTimeout a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder leaseTimeout(Duration leaseTimeout) {
            this.leaseTimeout = leaseTimeout;
            return this;
        }

        /**
         * Age after which a connection is retired rather than reused. Default 30 min.
         *
         * @param maxLifetime a positive duration, at most {@code PT2562047H47M16.854775807S} (the
         *                    nanosecond clock's range, about 292 years; checked by {@link #build()})
         * @return this builder
         */
        public Builder maxLifetime(Duration maxLifetime) {
            this.maxLifetime = maxLifetime;
            return this;
        }

        /**
         * Each connection's lifetime is shortened by a random amount up to this, so connections
         * opened together do not all retire together. Default a tenth of the maximum lifetime.
         *
         * @param lifetimeJitter zero or more, and less than the maximum lifetime (checked by
         *                       {@link #build()}); {@code null} returns to the default
         * @return this builder
         */
        public Builder lifetimeJitter(Duration lifetimeJitter) {
            this.lifetimeJitter = lifetimeJitter;
            return this;
        }

        /**
         * Idle time after which a connection is no longer leased and is retired. Default 2 min;
         * servers usually time idle connections out sooner, and then the server closes first.
         *
         * @param maxIdleTime a positive duration, at most {@code PT2562047H47M16.854775807S} (the
         *                    nanosecond clock's range, about 292 years; checked by {@link #build()})
         * @return this builder
         */
        public Builder maxIdleTime(Duration maxIdleTime) {
            this.maxIdleTime = maxIdleTime;
            return this;
        }

        /**
         * Log a warning, with where it was taken, for a lease held longer than this. Zero
         * (default) turns it off: while it is on, every lease records a stack trace.
         *
         * @param leakDetectionThreshold zero or a positive duration, at most
         *                               {@code PT2562047H47M16.854775807S} (the nanosecond clock's
         *                               range, about 292 years; checked by {@link #build()})
         * @return this builder
         */
        public Builder leakDetectionThreshold(Duration leakDetectionThreshold) {
            this.leakDetectionThreshold = leakDetectionThreshold;
            return this;
        }

        /**
         * Leases a connection may serve before it is retired (a request budget, like a server's
         * {@code keepalive_requests}). Zero (default) means no budget.
         *
         * @param maxLeasesPerConnection zero or more (checked by {@link #build()})
         * @return this builder
         */
        public Builder maxLeasesPerConnection(int maxLeasesPerConnection) {
            this.maxLeasesPerConnection = maxLeasesPerConnection;
            return this;
        }

        /**
         * The watch delay: a connection is registered with the idle watcher only after it has
         * been idle this long, so a connection reused sooner never touches the selector. It is
         * also the shortest step between two housekeeping rounds; housekeeping is otherwise not
         * periodic (it sleeps until the pool's next deadline). Default 10 ms.
         *
         * @param housekeepingInterval a positive duration, at most {@code PT2562047H47M16.854775807S}
         *                             (the nanosecond clock's range, about 292 years; checked by
         *                             {@link #build()})
         * @return this builder
         */
        public Builder housekeepingInterval(Duration housekeepingInterval) {
            this.housekeepingInterval = housekeepingInterval;
            return this;
        }

        /**
         * Safety margin below a server's idle timeout (announced or learned): connections idle
         * longer than the timeout minus this are no longer leased, so a lease never gets one the
         * server is about to close. The margin used is at most a quarter of the timeout.
         * Default 1 s.
         *
         * @param idleTimeoutMargin zero or a positive duration, at most
         *                          {@code PT2562047H47M16.854775807S} (the nanosecond clock's range,
         *                          about 292 years; checked by {@link #build()})
         * @return this builder
         */
        public Builder idleTimeoutMargin(Duration idleTimeoutMargin) {
            this.idleTimeoutMargin = idleTimeoutMargin;
            return this;
        }

        /**
         * How unwanted connections leave. Default {@link Retirement#defaults()}.
         *
         * @param retirement the policy; not {@code null} (checked by {@link #build()})
         * @return this builder
         */
        public Builder retirement(Retirement retirement) {
            this.retirement = retirement;
            return this;
        }

        /**
         * How many ephemeral ports the pool may tie up per endpoint. Default
         * {@link PortBudget#defaults()}: 80% of this host's range.
         *
         * @param portBudget the budget; not {@code null}
         * @return this builder
         */
        public Builder portBudget(PortBudget portBudget) {
            this.portBudget = Objects.requireNonNull(portBudget, "portBudget");
            return this;
        }

        /**
         * Checked before every new connection (rate limit, circuit breaker). Default
         * {@link ConnectGuard#none()}.
         *
         * @param connectGuard the guard; not {@code null}
         * @return this builder
         */
        public Builder connectGuard(ConnectGuard connectGuard) {
            this.connectGuard = Objects.requireNonNull(connectGuard, "connectGuard");
            return this;
        }

        /**
         * Adds a listener for the pool's events; may be called several times, listeners hear
         * events in the order they were added.
         *
         * @param listener the listener; not {@code null}
         * @return this builder
         */
        public Builder listener(PoolListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * The time source. Default {@link Ticker#system()}; tests pass a fake one.
         *
         * @param ticker the time source; not {@code null} (checked by {@link #build()})
         * @return this builder
         */
        public Builder ticker(Ticker ticker) {
            this.ticker = ticker;
            return this;
        }

        /**
         * Validates the settings and builds the configuration.
         *
         * @return the immutable configuration
         * @throws IllegalArgumentException naming the setting, the rule and the value, if a
         *         setting is out of range
         * @throws NullPointerException if the retirement or the ticker is {@code null}
         */
        public PoolConfig build() {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank, but was " + (name == null ? "null" : "'" + name + "'"));
            }
            atLeastOne("maxPerEndpoint", maxPerEndpoint);
            atLeastOne("maxTotal", maxTotal);
            if (maxTotal < maxPerEndpoint) {
                throw new IllegalArgumentException("maxTotal must be at least maxPerEndpoint (" + maxPerEndpoint + "), but was " + maxTotal);
            }
            if (maxLeasesPerConnection < 0) {
                throw new IllegalArgumentException("maxLeasesPerConnection must not be negative, but was " + maxLeasesPerConnection);
            }
            positive("leaseTimeout", leaseTimeout); // a wait: past the clock's range it saturates, practically forever
            fitsTheClock("maxLifetime", positive("maxLifetime", maxLifetime));
            fitsTheClock("maxIdleTime", positive("maxIdleTime", maxIdleTime));
            fitsTheClock("housekeepingInterval", positive("housekeepingInterval", housekeepingInterval));
            fitsTheClock("leakDetectionThreshold", notNegative("leakDetectionThreshold", leakDetectionThreshold));
            fitsTheClock("idleTimeoutMargin", notNegative("idleTimeoutMargin", idleTimeoutMargin));
            if (lifetimeJitter != null) {
                notNegative("lifetimeJitter", lifetimeJitter);
                if (lifetimeJitter.compareTo(maxLifetime) >= 0) {
                    throw new IllegalArgumentException("lifetimeJitter must be less than maxLifetime (" + maxLifetime + "), but was " + lifetimeJitter);
                }
            }
            Objects.requireNonNull(retirement, "retirement must not be null");
            Objects.requireNonNull(ticker, "ticker must not be null");
            return new PoolConfig(this);
        }

        private static void atLeastOne(String setting, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(setting + " must be at least 1, but was " + value);
            }
        }

        private static Duration positive(String setting, Duration value) {
            if (value == null || value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException(setting + " must be positive, but was " + value);
            }
            return value;
        }

        private static Duration notNegative(String setting, Duration value) {
            if (value == null || value.isNegative()) {
                throw new IllegalArgumentException(setting + " must not be negative, but was " + value);
            }
            return value;
        }

        /** An age or a delay, not a wait: it must fit the pool's nanosecond clock (about 292 years). */
        private static void fitsTheClock(String setting, Duration value) {
            if (!Nanos.fits(value)) {
                throw new IllegalArgumentException(setting + " must be at most " + Nanos.MAX + ", but was " + value);
            }
        }
    }
}
