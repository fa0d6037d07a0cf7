package io.github.portkeeper.spring.boot.common;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.spring.boot.common.internal.PropertyErrors;
import io.github.portkeeper.spring.boot.common.internal.PropertyMessages;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.core.env.Environment;
import org.springframework.validation.Errors;
import org.springframework.validation.Validator;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Settings of the Portkeeper pools, bound from {@code portkeeper.*}. Validated at startup the
 * way Spring Boot reports its own binding failures: each broken rule names the property in
 * kebab-case, the value as written and where it was written, e.g.
 * <pre>
 *     Property: portkeeper.pool.max-per-endpoint
 *     Value: "0"
 *     Origin: class path resource [application.properties] - 3:34
 *     Reason: portkeeper.pool.max-per-endpoint must be at least 1, but was "0"
 * </pre>
 *
 * <p>Not thread-safe while being bound; read-only afterwards.
 */
@ConfigurationProperties("portkeeper")
public class PortkeeperProperties implements Validator {

    /*
     * A setting that another one switches off must not be set to anything but its default: Boot
     * binds only the properties that are written, so a value other than the default was written,
     * and would be silently dropped. The default written out is accepted (it changes nothing),
     * as portkeeper.retirement.fallback=reset is with a policy that does not drain.
     */
    private static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    private static final int DEFAULT_MAX_ATTEMPTS = 2;
    private static final double DEFAULT_SHARE = 0.8;

    /** Whether Portkeeper's auto-configuration is enabled at all. */
    private boolean enabled = true;

    private final Pool pool = new Pool();

    private final Retirement retirement = new Retirement();

    private final PortBudget portBudget = new PortBudget();

    private final Retries retries = new Retries();

    private final Metrics metrics = new Metrics();

    private final Http http = new Http();

    private final SocketPool socketPool = new SocketPool();

    private final Health health = new Health();

    /** Where the values were written, for the messages; absent when bound outside a context. */
    @Autowired(required = false)
    private Environment environment;

    /** Creates the settings with every default. */
    public PortkeeperProperties() {
    }

    /**
     * Whether Portkeeper's auto-configuration is enabled.
     *
     * @return {@code portkeeper.enabled}
     */
    public boolean isEnabled() {
        return enabled;
    }

    /**
     * Sets {@code portkeeper.enabled}.
     *
     * @param enabled whether Portkeeper's auto-configuration is enabled
     */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    /**
     * The pool limits.
     *
     * @return {@code portkeeper.pool.*}
     */
    public Pool getPool() {
        return pool;
    }

    /**
     * The retirement policy.
     *
     * @return {@code portkeeper.retirement.*}
     */
    public Retirement getRetirement() {
        return retirement;
    }

    /**
     * The port budget.
     *
     * @return {@code portkeeper.port-budget.*}
     */
    public PortBudget getPortBudget() {
        return portBudget;
    }

    /**
     * The dead-connection retry.
     *
     * @return {@code portkeeper.retries.*}
     */
    public Retries getRetries() {
        return retries;
    }

    /**
     * The meter settings.
     *
     * @return {@code portkeeper.metrics.*}
     */
    public Metrics getMetrics() {
        return metrics;
    }

    /**
     * The HTTP client settings.
     *
     * @return {@code portkeeper.http.*}
     */
    public Http getHttp() {
        return http;
    }

    /**
     * The raw socket pool settings.
     *
     * @return {@code portkeeper.socket-pool.*}
     */
    public SocketPool getSocketPool() {
        return socketPool;
    }

    /**
     * The health indicator settings.
     *
     * @return {@code portkeeper.health.*}
     */
    public Health getHealth() {
        return health;
    }

    /**
     * The pool configuration these properties describe, under the given pool name.
     *
     * @param name the pool's name (its meters' {@code pool} tag)
     * @return the validated configuration
     * @throws IllegalArgumentException naming the property when a value breaks a rule
     */
    public PoolConfig toPoolConfig(String name) {
        try {
            io.github.portkeeper.core.Retirement r = retirement();
            io.github.portkeeper.core.PortBudget budget = portBudget();
            PoolConfig.Builder b = PoolConfig.builder()
                    .name(name)
                    .maxPerEndpoint(pool.maxPerEndpoint)
                    .maxTotal(pool.maxTotal)
                    .leaseTimeout(pool.leaseTimeout)
                    .maxLifetime(pool.maxLifetime)
                    .maxIdleTime(pool.maxIdleTime)
                    .leakDetectionThreshold(pool.leakDetectionThreshold)
                    .maxLeasesPerConnection(pool.maxLeasesPerConnection)
                    .idleTimeoutMargin(pool.idleTimeoutMargin)
                    .housekeepingInterval(pool.housekeepingInterval)
                    .retirement(r)
                    .portBudget(budget);
            if (pool.lifetimeJitter != null) {
                b.lifetimeJitter(pool.lifetimeJitter);
            }
            return b.build();
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException(PropertyMessages.toPropertyMessage(e.getMessage()), e);
        }
    }

    private io.github.portkeeper.core.Retirement retirement() {
        if (retirement.policy == null) {
            throw new IllegalArgumentException("retirement policy must not be null");
        }
        boolean drains = retirement.policy == io.github.portkeeper.core.Retirement.Policy.AWAIT_PEER
                || retirement.policy == io.github.portkeeper.core.Retirement.Policy.REQUEST_PEER_CLOSE;
        if (drains && retirement.drainTimeout == null) {
            throw new IllegalArgumentException("retirement drainTimeout must be positive, but was null");
        }
        if (!drains && retirement.drainTimeout != null && !retirement.drainTimeout.equals(DEFAULT_DRAIN_TIMEOUT)) {
            throw new IllegalArgumentException("portkeeper.retirement.drain-timeout must be left at its default ("
                    + DEFAULT_DRAIN_TIMEOUT + ") unless portkeeper.retirement.policy is await-peer or request-peer-close "
                    + "(with policy " + kebab(retirement.policy.name()) + " nothing drains), but was " + retirement.drainTimeout);
        }
        io.github.portkeeper.core.Retirement r;
        switch (retirement.policy) {
            case REQUEST_PEER_CLOSE:
                r = io.github.portkeeper.core.Retirement.requestPeerClose(retirement.drainTimeout);
                break;
            case RESET:
                r = io.github.portkeeper.core.Retirement.reset();
                break;
            case LOCAL:
                r = io.github.portkeeper.core.Retirement.local();
                break;
            case AWAIT_PEER:
            default:
                r = io.github.portkeeper.core.Retirement.awaitPeer(retirement.drainTimeout);
        }
        if (retirement.fallback == null) {
            return r;
        }
        if (!drains) {
            // The documented default (reset) written out is no error; anything else has no effect here.
            if (retirement.fallback == Ending.RESET) {
                return r;
            }
            throw new IllegalArgumentException("portkeeper.retirement.fallback applies only when portkeeper.retirement.policy is "
                    + "await-peer or request-peer-close (the fallback closes connections that drained in vain), but policy was "
                    + kebab(retirement.policy.name()));
        }
        return r.withFallback(retirement.fallback);
    }

    private io.github.portkeeper.core.PortBudget portBudget() {
        if (!portBudget.enabled) {
            if (portBudget.share != DEFAULT_SHARE) {
                throw new IllegalArgumentException("portkeeper.port-budget.share must be left at its default (" + DEFAULT_SHARE
                        + ") when portkeeper.port-budget.enabled is false (no budget is kept), but was " + portBudget.share);
            }
            if (!portBudget.kernel) {
                throw new IllegalArgumentException("portkeeper.port-budget.kernel must be left at its default (true) when "
                        + "portkeeper.port-budget.enabled is false (no budget is kept), but was false");
            }
            return io.github.portkeeper.core.PortBudget.disabled();
        }
        return io.github.portkeeper.core.PortBudget.defaults()
                .withShare(portBudget.share)
                .withKernelCounting(portBudget.kernel);
    }

    /**
     * Whether {@link #validate} checks {@code clazz}.
     *
     * @param clazz the class Boot is binding
     * @return true for {@code PortkeeperProperties}
     */
    @Override
    public boolean supports(Class<?> clazz) {
        return PortkeeperProperties.class.isAssignableFrom(clazz);
    }

    /**
     * Called by Boot after binding: each broken rule becomes a field error naming the property
     * in kebab-case, with the value as written and its origin.
     *
     * @param target the bound properties
     * @param errors where the errors go
     */
    @Override
    public void validate(Object target, Errors errors) {
        PortkeeperProperties p = (PortkeeperProperties) target;
        PropertyErrors out = new PropertyErrors(errors, p.environment, "portkeeper");
        for (String message : p.problems()) {
            out.add(message);
        }
    }

    /** Every broken rule, each message starting with the full property name. */
    List<String> problems() {
        List<String> out = new ArrayList<>();
        try {
            // With HTTP off the pool's name must be the default, a rule of its own below; one message for it is enough.
            toPoolConfig(http.enabled ? pool.name : new Pool().name);
        } catch (IllegalArgumentException e) {
            out.add(e.getMessage());
        }
        if (http.enabled) {
            if (!retries.enabled && retries.maxAttempts != DEFAULT_MAX_ATTEMPTS) {
                out.add("portkeeper.retries.max-attempts must be left at its default (" + DEFAULT_MAX_ATTEMPTS + ") when "
                        + "portkeeper.retries.enabled is false (no retry is made), but was " + retries.maxAttempts);
            } else if (retries.maxAttempts < 1) {
                out.add("portkeeper.retries.max-attempts must be at least 1, but was " + retries.maxAttempts);
            }
            positive(out, "portkeeper.http.connect-timeout", http.connectTimeout);
            notNegative(out, "portkeeper.http.socket-timeout", http.socketTimeout);
        } else {
            // The HTTP pool's name and the retries serve only the HTTP client.
            Http h = new Http();
            String off = "portkeeper.http.enabled is false (no HTTP client is created)";
            leftAtDefault(out, "portkeeper.http.connect-timeout", http.connectTimeout, h.connectTimeout, off);
            leftAtDefault(out, "portkeeper.http.socket-timeout", http.socketTimeout, h.socketTimeout, off);
            leftAtDefault(out, "portkeeper.http.boot-clients", http.bootClients, h.bootClients, off);
            leftAtDefault(out, "portkeeper.retries.enabled", retries.enabled, new Retries().enabled, off);
            leftAtDefault(out, "portkeeper.retries.max-attempts", retries.maxAttempts, new Retries().maxAttempts, off);
            leftAtDefault(out, "portkeeper.pool.name", pool.name, new Pool().name, off);
        }
        if (socketPool.enabled) {
            if (socketPool.name == null || socketPool.name.isBlank()) {
                out.add("portkeeper.socket-pool.name must not be blank, but was " + quoted(socketPool.name));
            } else if (http.enabled && socketPool.name.equals(pool.name)) {
                out.add("portkeeper.socket-pool.name must differ from portkeeper.pool.name (their meters would mix), but both were '"
                        + pool.name + "'");
            }
            positive(out, "portkeeper.socket-pool.connect-timeout", socketPool.connectTimeout);
            notNegative(out, "portkeeper.socket-pool.read-timeout", socketPool.readTimeout);
        } else {
            SocketPool d = new SocketPool();
            String off = "portkeeper.socket-pool.enabled is false (no socket pool is created)";
            leftAtDefault(out, "portkeeper.socket-pool.name", socketPool.name, d.name, off);
            leftAtDefault(out, "portkeeper.socket-pool.connect-timeout", socketPool.connectTimeout, d.connectTimeout, off);
            leftAtDefault(out, "portkeeper.socket-pool.read-timeout", socketPool.readTimeout, d.readTimeout, off);
        }
        if (!metrics.enabled) {
            leftAtDefault(out, "portkeeper.metrics.endpoint-tag", metrics.endpointTag, new Metrics().endpointTag,
                    "portkeeper.metrics.enabled is false (no meters are bound)");
        }
        double warn = health.warnRatio;
        if (!(warn > 0 && warn <= 1)) {
            out.add("portkeeper.health.warn-ratio must be > 0 and <= 1, but was " + warn);
        }
        return out;
    }

    /**
     * A setting another one switches off: anything but its default was written on purpose and
     * would be dropped. {@code off} says which setting is false and what then does not exist.
     */
    private static void leftAtDefault(List<String> out, String property, Object value, Object dflt, String off) {
        if (!Objects.equals(value, dflt)) {
            out.add(property + " must be left at its default (" + dflt + ") when " + off + ", but was " + value);
        }
    }

    private static void positive(List<String> out, String property, Duration value) {
        if (value == null || value.isNegative() || value.isZero()) {
            out.add(property + " must be positive, but was " + value);
        }
    }

    private static void notNegative(List<String> out, String property, Duration value) {
        if (value == null || value.isNegative()) {
            out.add(property + " must not be negative, but was " + value);
        }
    }

    private static String quoted(String s) {
        return s == null ? "null" : "'" + s + "'";
    }

    private static String kebab(String enumName) {
        return enumName.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /** Limits and ages of pooled connections ({@code portkeeper.pool.*}); shared by the HTTP and the socket pool. */
    public static class Pool {

        /** Creates the settings with their defaults. */
        public Pool() {
        }

        /** Name of the HTTP pool: the pool tag of its meters. Pools Portkeeper adds for SSL bundles are named after it. Only with the HTTP client enabled: with portkeeper.http.enabled=false only the default (http, written out) is accepted. */
        private String name = "http";

        /** Most connections (leased, idle and being opened) to one endpoint; for HTTP, the per-route limit. */
        private int maxPerEndpoint = 8;

        /** Most connections (leased, idle and being opened) across all endpoints. */
        private int maxTotal = 64;

        /** How long a request waits for a pooled connection before failing. */
        private Duration leaseTimeout = Duration.ofSeconds(10);

        /** Age after which a connection is retired rather than reused. */
        private Duration maxLifetime = Duration.ofMinutes(30);

        /** Random shortening of each connection's lifetime, so that connections opened together do not retire together. Depends on max-lifetime: defaults to a tenth of it (3m with the default max-lifetime of 30m). */
        private Duration lifetimeJitter;

        /** Idle time after which a connection is no longer leased and is retired. Servers usually time idle connections out sooner, and then the server closes first. */
        private Duration maxIdleTime = Duration.ofMinutes(2);

        /** Log a warning, with where it was taken, for a lease held longer than this; 0 turns leak detection off. */
        private Duration leakDetectionThreshold = Duration.ZERO;

        /** Leases a connection may serve before it is retired (like a server's keepalive_requests); 0 means no budget. */
        private int maxLeasesPerConnection;

        /** Safety margin below a server's idle timeout (announced by Keep-Alive or learned): connections idle longer than the timeout minus this are not leased. */
        private Duration idleTimeoutMargin = Duration.ofSeconds(1);

        /** The watch delay: a connection idle this long is handed to the idle watcher; also the shortest step between housekeeping rounds, which otherwise sleep until the next deadline. */
        private Duration housekeepingInterval = Duration.ofMillis(10);

        /**
         * The value of {@code portkeeper.pool.name}.
         *
         * @return the value
         */
        public String getName() {
            return name;
        }

        /**
         * Sets {@code portkeeper.pool.name}.
         *
         * @param name the value
         */
        public void setName(String name) {
            this.name = name;
        }

        /**
         * The value of {@code portkeeper.pool.max-per-endpoint}.
         *
         * @return the value
         */
        public int getMaxPerEndpoint() {
            return maxPerEndpoint;
        }

        /**
         * Sets {@code portkeeper.pool.max-per-endpoint}.
         *
         * @param maxPerEndpoint the value
         */
        public void setMaxPerEndpoint(int maxPerEndpoint) {
            this.maxPerEndpoint = maxPerEndpoint;
        }

        /**
         * The value of {@code portkeeper.pool.max-total}.
         *
         * @return the value
         */
        public int getMaxTotal() {
            return maxTotal;
        }

        /**
         * Sets {@code portkeeper.pool.max-total}.
         *
         * @param maxTotal the value
         */
        public void setMaxTotal(int maxTotal) {
            this.maxTotal = maxTotal;
        }

        /**
         * The value of {@code portkeeper.pool.lease-timeout}.
         *
         * @return the value
         */
        public Duration getLeaseTimeout() {
            return leaseTimeout;
        }

        /**
         * Sets {@code portkeeper.pool.lease-timeout}.
         *
         * @param leaseTimeout the value
         */
        public void setLeaseTimeout(Duration leaseTimeout) {
            this.leaseTimeout = leaseTimeout;
        }

        /**
         * The value of {@code portkeeper.pool.max-lifetime}.
         *
         * @return the value
         */
        public Duration getMaxLifetime() {
            return maxLifetime;
        }

        /**
         * Sets {@code portkeeper.pool.max-lifetime}.
         *
         * @param maxLifetime the value
         */
        public void setMaxLifetime(Duration maxLifetime) {
            this.maxLifetime = maxLifetime;
        }

        /**
         * The value of {@code portkeeper.pool.lifetime-jitter}.
         *
         * @return the value
         */
        public Duration getLifetimeJitter() {
            return lifetimeJitter;
        }

        /**
         * Sets {@code portkeeper.pool.lifetime-jitter}.
         *
         * @param lifetimeJitter the value
         */
        public void setLifetimeJitter(Duration lifetimeJitter) {
            this.lifetimeJitter = lifetimeJitter;
        }

        /**
         * The value of {@code portkeeper.pool.max-idle-time}.
         *
         * @return the value
         */
        public Duration getMaxIdleTime() {
            return maxIdleTime;
        }

        /**
         * Sets {@code portkeeper.pool.max-idle-time}.
         *
         * @param maxIdleTime the value
         */
        public void setMaxIdleTime(Duration maxIdleTime) {
            this.maxIdleTime = maxIdleTime;
        }

        /**
         * The value of {@code portkeeper.pool.leak-detection-threshold}.
         *
         * @return the value
         */
        public Duration getLeakDetectionThreshold() {
            return leakDetectionThreshold;
        }

        /**
         * Sets {@code portkeeper.pool.leak-detection-threshold}.
         *
         * @param leakDetectionThreshold the value
         */
        public void setLeakDetectionThreshold(Duration leakDetectionThreshold) {
            this.leakDetectionThreshold = leakDetectionThreshold;
        }

        /**
         * The value of {@code portkeeper.pool.max-leases-per-connection}.
         *
         * @return the value
         */
        public int getMaxLeasesPerConnection() {
            return maxLeasesPerConnection;
        }

        /**
         * Sets {@code portkeeper.pool.max-leases-per-connection}.
         *
         * @param maxLeasesPerConnection the value
         */
        public void setMaxLeasesPerConnection(int maxLeasesPerConnection) {
            this.maxLeasesPerConnection = maxLeasesPerConnection;
        }

        /**
         * The value of {@code portkeeper.pool.idle-timeout-margin}.
         *
         * @return the value
         */
        public Duration getIdleTimeoutMargin() {
            return idleTimeoutMargin;
        }

        /**
         * Sets {@code portkeeper.pool.idle-timeout-margin}.
         *
         * @param idleTimeoutMargin the value
         */
        public void setIdleTimeoutMargin(Duration idleTimeoutMargin) {
            this.idleTimeoutMargin = idleTimeoutMargin;
        }

        /**
         * The value of {@code portkeeper.pool.housekeeping-interval}.
         *
         * @return the value
         */
        public Duration getHousekeepingInterval() {
            return housekeepingInterval;
        }

        /**
         * Sets {@code portkeeper.pool.housekeeping-interval}.
         *
         * @param housekeepingInterval the value
         */
        public void setHousekeepingInterval(Duration housekeepingInterval) {
            this.housekeepingInterval = housekeepingInterval;
        }
    }

    /** How a connection the pool no longer wants leaves ({@code portkeeper.retirement.*}). */
    public static class Retirement {

        /** Creates the settings with their defaults. */
        public Retirement() {
        }

        /** The retirement policy: AWAIT_PEER lets the server close first (no TIME_WAIT here), REQUEST_PEER_CLOSE asks it to (HTTP Connection: close), RESET closes with RST, LOCAL with a plain FIN (one TIME_WAIT each). */
        private io.github.portkeeper.core.Retirement.Policy policy = io.github.portkeeper.core.Retirement.Policy.AWAIT_PEER;

        /** How long a retiring connection waits for the peer's FIN. Depends on policy: used by await-peer and request-peer-close; with policy reset or local nothing drains, and only the default (30s, written out) is accepted. */
        private Duration drainTimeout = Duration.ofSeconds(30);

        /** How a connection that drained in vain is closed: RESET (no TIME_WAIT, the peer sees a reset) or LOCAL (a FIN, one TIME_WAIT here). Depends on policy: used by await-peer and request-peer-close, where it defaults to reset; with policy reset or local there is nothing to fall back from, and only reset (the default, written out) is accepted. */
        private Ending fallback;

        /**
         * The value of {@code portkeeper.retirement.policy}.
         *
         * @return the value
         */
        public io.github.portkeeper.core.Retirement.Policy getPolicy() {
            return policy;
        }

        /**
         * Sets {@code portkeeper.retirement.policy}.
         *
         * @param policy the value
         */
        public void setPolicy(io.github.portkeeper.core.Retirement.Policy policy) {
            this.policy = policy;
        }

        /**
         * The value of {@code portkeeper.retirement.drain-timeout}.
         *
         * @return the value
         */
        public Duration getDrainTimeout() {
            return drainTimeout;
        }

        /**
         * Sets {@code portkeeper.retirement.drain-timeout}.
         *
         * @param drainTimeout the value
         */
        public void setDrainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
        }

        /**
         * The value of {@code portkeeper.retirement.fallback}.
         *
         * @return the value
         */
        public Ending getFallback() {
            return fallback;
        }

        /**
         * Sets {@code portkeeper.retirement.fallback}.
         *
         * @param fallback the value
         */
        public void setFallback(Ending fallback) {
            this.fallback = fallback;
        }
    }

    /** The per-endpoint ephemeral port budget ({@code portkeeper.port-budget.*}). */
    public static class PortBudget {

        /** Creates the settings with their defaults. */
        public PortBudget() {
        }

        /** Whether new connections are held to a per-endpoint share of this host's ephemeral port range. */
        private boolean enabled = true;

        /** Share of the ephemeral port range one endpoint may tie up, > 0 and <= 1. Only with the budget enabled: with enabled=false only the default (0.8, written out) is accepted. */
        private double share = 0.8;

        /** Whether sockets of other pools and processes toward the same endpoint are counted too (read from the kernel where available). Only with the budget enabled: with enabled=false only the default (true, written out) is accepted. */
        private boolean kernel = true;

        /**
         * The value of {@code portkeeper.port-budget.enabled}.
         *
         * @return the value
         */
        public boolean isEnabled() {
            return enabled;
        }

        /**
         * Sets {@code portkeeper.port-budget.enabled}.
         *
         * @param enabled the value
         */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /**
         * The value of {@code portkeeper.port-budget.share}.
         *
         * @return the value
         */
        public double getShare() {
            return share;
        }

        /**
         * Sets {@code portkeeper.port-budget.share}.
         *
         * @param share the value
         */
        public void setShare(double share) {
            this.share = share;
        }

        /**
         * The value of {@code portkeeper.port-budget.kernel}.
         *
         * @return the value
         */
        public boolean isKernel() {
            return kernel;
        }

        /**
         * Sets {@code portkeeper.port-budget.kernel}.
         *
         * @param kernel the value
         */
        public void setKernel(boolean kernel) {
            this.kernel = kernel;
        }
    }

    /** Retry of idempotent HTTP requests whose reused connection turned out dead ({@code portkeeper.retries.*}). */
    public static class Retries {

        /** Creates the settings with their defaults. */
        public Retries() {
        }

        /** Whether an idempotent request that got no response on a reused connection is retried on a fresh one. Only with the HTTP client enabled: with portkeeper.http.enabled=false only the default (true, written out) is accepted. */
        private boolean enabled = true;

        /** Attempts in all, the first included (2 = one retry). Only with retries and the HTTP client enabled: with portkeeper.retries.enabled=false or portkeeper.http.enabled=false only the default (2, written out) is accepted. */
        private int maxAttempts = 2;

        /**
         * The value of {@code portkeeper.retries.enabled}.
         *
         * @return the value
         */
        public boolean isEnabled() {
            return enabled;
        }

        /**
         * Sets {@code portkeeper.retries.enabled}.
         *
         * @param enabled the value
         */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /**
         * The value of {@code portkeeper.retries.max-attempts}.
         *
         * @return the value
         */
        public int getMaxAttempts() {
            return maxAttempts;
        }

        /**
         * Sets {@code portkeeper.retries.max-attempts}.
         *
         * @param maxAttempts the value
         */
        public void setMaxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
        }
    }

    /** Micrometer meters of the pools ({@code portkeeper.metrics.*}). */
    public static class Metrics {

        /** Creates the settings with their defaults. */
        public Metrics() {
        }

        /** Whether the pools' meters (portkeeper.*) are bound to the application's MeterRegistry. */
        private boolean enabled = true;

        /** Whether per-endpoint meters carry an endpoint=host:port tag; turn off for many endpoints (high cardinality). Only with metrics enabled: with enabled=false only the default (true, written out) is accepted. */
        private boolean endpointTag = true;

        /**
         * The value of {@code portkeeper.metrics.enabled}.
         *
         * @return the value
         */
        public boolean isEnabled() {
            return enabled;
        }

        /**
         * Sets {@code portkeeper.metrics.enabled}.
         *
         * @param enabled the value
         */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /**
         * The value of {@code portkeeper.metrics.endpoint-tag}.
         *
         * @return the value
         */
        public boolean isEndpointTag() {
            return endpointTag;
        }

        /**
         * Sets {@code portkeeper.metrics.endpoint-tag}.
         *
         * @param endpointTag the value
         */
        public void setEndpointTag(boolean endpointTag) {
            this.endpointTag = endpointTag;
        }
    }

    /** The pooled HTTP client ({@code portkeeper.http.*}). */
    public static class Http {

        /** Creates the settings with their defaults. */
        public Http() {
        }

        /** Whether the pooled HttpClient 5 (and Boot's RestClient.Builder and RestTemplateBuilder on top of it) is auto-configured. */
        private boolean enabled = true;

        /** Whether Boot-built clients (RestClient.Builder, RestTemplateBuilder, the ClientHttpRequestFactory) use the Portkeeper pool. Only with the HTTP client enabled: with enabled=false only the default (true, written out) is accepted. */
        private boolean bootClients = true;

        /** Connect timeout of new connections; Boot's spring.http.clients.connect-timeout (Boot 3: spring.http.client.connect-timeout), when set, wins for Boot-built clients. Only with the HTTP client enabled: with enabled=false only the default (10s, written out) is accepted. */
        private Duration connectTimeout = Duration.ofSeconds(10);

        /** Socket (read) timeout of pooled connections (Portkeeper's choice: HttpClient itself sets none); 0 waits indefinitely. Boot's spring.http.clients.read-timeout (Boot 3: spring.http.client.read-timeout), when set, wins for Boot-built clients. Only with the HTTP client enabled: with enabled=false only the default (3m, written out) is accepted. */
        private Duration socketTimeout = Duration.ofMinutes(3);

        /**
         * The value of {@code portkeeper.http.enabled}.
         *
         * @return the value
         */
        public boolean isEnabled() {
            return enabled;
        }

        /**
         * Sets {@code portkeeper.http.enabled}.
         *
         * @param enabled the value
         */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /**
         * The value of {@code portkeeper.http.boot-clients}.
         *
         * @return the value
         */
        public boolean isBootClients() {
            return bootClients;
        }

        /**
         * Sets {@code portkeeper.http.boot-clients}.
         *
         * @param bootClients the value
         */
        public void setBootClients(boolean bootClients) {
            this.bootClients = bootClients;
        }

        /**
         * The value of {@code portkeeper.http.connect-timeout}.
         *
         * @return the value
         */
        public Duration getConnectTimeout() {
            return connectTimeout;
        }

        /**
         * Sets {@code portkeeper.http.connect-timeout}.
         *
         * @param connectTimeout the value
         */
        public void setConnectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
        }

        /**
         * The value of {@code portkeeper.http.socket-timeout}.
         *
         * @return the value
         */
        public Duration getSocketTimeout() {
            return socketTimeout;
        }

        /**
         * Sets {@code portkeeper.http.socket-timeout}.
         *
         * @param socketTimeout the value
         */
        public void setSocketTimeout(Duration socketTimeout) {
            this.socketTimeout = socketTimeout;
        }
    }

    /** The raw TCP socket pool, an opt-in bean ({@code portkeeper.socket-pool.*}). */
    public static class SocketPool {

        /** Creates the settings with their defaults. */
        public SocketPool() {
        }

        /** Whether a SocketPool bean is created (with the portkeeper.pool.* limits). */
        private boolean enabled;

        /** Name of the socket pool: the pool tag of its meters. Only with the socket pool enabled: with enabled=false only the default (socket, written out) is accepted. */
        private String name = "socket";

        /** Connect timeout of new sockets. Only with the socket pool enabled: with enabled=false only the default (10s, written out) is accepted. */
        private Duration connectTimeout = Duration.ofSeconds(10);

        /** SO_TIMEOUT for reads; 0 waits indefinitely. Only with the socket pool enabled: with enabled=false only the default (0, written out) is accepted. */
        private Duration readTimeout = Duration.ZERO;

        /**
         * The value of {@code portkeeper.socket-pool.enabled}.
         *
         * @return the value
         */
        public boolean isEnabled() {
            return enabled;
        }

        /**
         * Sets {@code portkeeper.socket-pool.enabled}.
         *
         * @param enabled the value
         */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /**
         * The value of {@code portkeeper.socket-pool.name}.
         *
         * @return the value
         */
        public String getName() {
            return name;
        }

        /**
         * Sets {@code portkeeper.socket-pool.name}.
         *
         * @param name the value
         */
        public void setName(String name) {
            this.name = name;
        }

        /**
         * The value of {@code portkeeper.socket-pool.connect-timeout}.
         *
         * @return the value
         */
        public Duration getConnectTimeout() {
            return connectTimeout;
        }

        /**
         * Sets {@code portkeeper.socket-pool.connect-timeout}.
         *
         * @param connectTimeout the value
         */
        public void setConnectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
        }

        /**
         * The value of {@code portkeeper.socket-pool.read-timeout}.
         *
         * @return the value
         */
        public Duration getReadTimeout() {
            return readTimeout;
        }

        /**
         * Sets {@code portkeeper.socket-pool.read-timeout}.
         *
         * @param readTimeout the value
         */
        public void setReadTimeout(Duration readTimeout) {
            this.readTimeout = readTimeout;
        }
    }

    /** The portkeeper health indicator ({@code portkeeper.health.*}; turn it off with management.health.portkeeper.enabled=false). */
    public static class Health {

        /** Creates the settings with their defaults. */
        public Health() {
        }

        /** Share of an endpoint's port budget in use from which the health details carry a warning; the status turns DOWN at 1. */
        private double warnRatio = 0.9;

        /**
         * The value of {@code portkeeper.health.warn-ratio}.
         *
         * @return the value
         */
        public double getWarnRatio() {
            return warnRatio;
        }

        /**
         * Sets {@code portkeeper.health.warn-ratio}.
         *
         * @param warnRatio the value
         */
        public void setWarnRatio(double warnRatio) {
            this.warnRatio = warnRatio;
        }
    }
}
