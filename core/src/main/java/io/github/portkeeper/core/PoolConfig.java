package io.github.portkeeper.core;

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

    /** A builder with the defaults documented on each setter. */
    public static Builder builder() {
        return new Builder();
    }

    /** The defaults. */
    public static PoolConfig defaults() {
        return builder().build();
    }

    /** A builder starting from this configuration. */
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

    public String name() {
        return name;
    }

    public int maxPerEndpoint() {
        return maxPerEndpoint;
    }

    public int maxTotal() {
        return maxTotal;
    }

    public Duration leaseTimeout() {
        return leaseTimeout;
    }

    public Duration maxLifetime() {
        return maxLifetime;
    }

    public Duration lifetimeJitter() {
        return lifetimeJitter;
    }

    public Duration maxIdleTime() {
        return maxIdleTime;
    }

    /** Zero when leak detection is off. */
    public Duration leakDetectionThreshold() {
        return leakDetectionThreshold;
    }

    /** Zero when connections may serve any number of leases. */
    public int maxLeasesPerConnection() {
        return maxLeasesPerConnection;
    }

    public Duration housekeepingInterval() {
        return housekeepingInterval;
    }

    public Duration idleTimeoutMargin() {
        return idleTimeoutMargin;
    }

    public Retirement retirement() {
        return retirement;
    }

    public PortBudget portBudget() {
        return portBudget;
    }

    public ConnectGuard connectGuard() {
        return connectGuard;
    }

    public List<PoolListener> listeners() {
        return listeners;
    }

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

        /** The pool's name, the {@code pool} tag of its meters. Default {@code "default"}. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** Most connections (leased plus idle) to one endpoint. Default 8. */
        public Builder maxPerEndpoint(int maxPerEndpoint) {
            this.maxPerEndpoint = maxPerEndpoint;
            return this;
        }

        /** Most connections (leased plus idle) across all endpoints. Default 64. */
        public Builder maxTotal(int maxTotal) {
            this.maxTotal = maxTotal;
            return this;
        }

        /** How long a lease waits for a connection before failing. Default 10 s. */
        public Builder leaseTimeout(Duration leaseTimeout) {
            this.leaseTimeout = leaseTimeout;
            return this;
        }

        /** Age after which a connection is retired rather than reused. Default 30 min. */
        public Builder maxLifetime(Duration maxLifetime) {
            this.maxLifetime = maxLifetime;
            return this;
        }

        /**
         * Each connection's lifetime is shortened by a random amount up to this, so connections
         * opened together do not all retire together. Default a tenth of the maximum lifetime.
         */
        public Builder lifetimeJitter(Duration lifetimeJitter) {
            this.lifetimeJitter = lifetimeJitter;
            return this;
        }

        /**
         * Idle time after which a connection is no longer leased and is retired. Default 2 min;
         * servers usually time idle connections out sooner, and then the server closes first.
         */
        public Builder maxIdleTime(Duration maxIdleTime) {
            this.maxIdleTime = maxIdleTime;
            return this;
        }

        /** Log a warning, with where it was taken, for a lease held longer than this. Zero (default) turns it off. */
        public Builder leakDetectionThreshold(Duration leakDetectionThreshold) {
            this.leakDetectionThreshold = leakDetectionThreshold;
            return this;
        }

        /**
         * Leases a connection may serve before it is retired (a request budget, like a server's
         * {@code keepalive_requests}). Zero (default) means no budget.
         */
        public Builder maxLeasesPerConnection(int maxLeasesPerConnection) {
            this.maxLeasesPerConnection = maxLeasesPerConnection;
            return this;
        }

        /** How often the housekeeping thread checks idle and leased connections. Default 10 ms. */
        public Builder housekeepingInterval(Duration housekeepingInterval) {
            this.housekeepingInterval = housekeepingInterval;
            return this;
        }

        /**
         * Safety margin below a server's idle timeout (announced or learned): connections idle
         * longer than the timeout minus this are no longer leased, so a lease never gets one the
         * server is about to close. The margin used is at most a quarter of the timeout.
         * Default 1 s.
         */
        public Builder idleTimeoutMargin(Duration idleTimeoutMargin) {
            this.idleTimeoutMargin = idleTimeoutMargin;
            return this;
        }

        /** How unwanted connections leave. Default {@link Retirement#defaults()}. */
        public Builder retirement(Retirement retirement) {
            this.retirement = retirement;
            return this;
        }

        /**
         * How many ephemeral ports the pool may tie up per endpoint. Default
         * {@link PortBudget#defaults()}: 80% of this host's range.
         */
        public Builder portBudget(PortBudget portBudget) {
            this.portBudget = Objects.requireNonNull(portBudget, "portBudget");
            return this;
        }

        /**
         * Checked before every new connection (rate limit, circuit breaker). Default
         * {@link ConnectGuard#none()}.
         */
        public Builder connectGuard(ConnectGuard connectGuard) {
            this.connectGuard = Objects.requireNonNull(connectGuard, "connectGuard");
            return this;
        }

        /** Adds a listener for the pool's events. */
        public Builder listener(PoolListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** The time source. Default {@link Ticker#system()}; tests pass a fake one. */
        public Builder ticker(Ticker ticker) {
            this.ticker = ticker;
            return this;
        }

        /** Validates the settings and builds the configuration. */
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
            positive("leaseTimeout", leaseTimeout);
            positive("maxLifetime", maxLifetime);
            positive("maxIdleTime", maxIdleTime);
            positive("housekeepingInterval", housekeepingInterval);
            notNegative("leakDetectionThreshold", leakDetectionThreshold);
            notNegative("idleTimeoutMargin", idleTimeoutMargin);
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

        private static void positive(String setting, Duration value) {
            if (value == null || value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException(setting + " must be positive, but was " + value);
            }
        }

        private static void notNegative(String setting, Duration value) {
            if (value == null || value.isNegative()) {
                throw new IllegalArgumentException(setting + " must not be negative, but was " + value);
            }
        }
    }
}
