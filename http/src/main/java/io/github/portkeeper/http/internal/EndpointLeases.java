package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.UnsupportedSchemeException;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.LeaseRequest;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The connection manager's lease and release bookkeeping: hands HttpClient a {@link PooledEndpoint}
 * over a pool lease, takes it back (pooled again, or discarded by how it ended), and knows which
 * are out, so that an immediate close can abort them. Why apart from the manager: this is the
 * per-exchange engine, while the manager is HttpClient's API over it.
 *
 * <p>Thread-safe.
 */
public final class EndpointLeases {

    private final Pool<HttpConnection> pool;
    private final RouteEndpoints routes;
    private final RouteConfigs configs;
    /** Endpoints handed to HttpClient and not yet released, for close(IMMEDIATE). */
    private final Set<PooledEndpoint> leased = ConcurrentHashMap.newKeySet();

    public EndpointLeases(Pool<HttpConnection> pool, RouteEndpoints routes, RouteConfigs configs) {
        this.pool = pool;
        this.routes = routes;
        this.configs = configs;
    }

    /** HttpClient's {@code lease}: a request for a connection of the route, taken by its {@code get}. */
    public LeaseRequest lease(HttpRoute route, Timeout requestTimeout, Object state) {
        Objects.requireNonNull(route, "route");
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        if (routes.portOf(firstHop) < 0) {
            // No port, and a scheme with no default one (HttpClient's resolver says -1): fail the
            // lease as HttpClient's operator fails such a connect, rather than with the pool's
            // port check. Its route planner refuses such a request first; this is a route built
            // by hand, through a proxy (a route refuses a target without a port).
            UnsupportedSchemeException unsupported = new UnsupportedSchemeException(firstHop.getSchemeName() + " protocol is not supported");
            return new PendingLease(timeout -> {
                throw unsupported;
            });
        }
        Endpoint endpoint = routes.endpointOf(route, state);
        boolean fresh = FreshConnection.isRequired();
        return new PendingLease(timeout -> {
            PooledEndpoint pe = new PooledEndpoint(take(endpoint, route, fresh, toDuration(timeout, requestTimeout)), route);
            leased.add(pe);
            if (pool.isClosed()) {
                pe.close(CloseMode.IMMEDIATE);
            }
            return pe;
        });
    }

    /**
     * A connection for the route, reused if one is fit: the pool's validation runs HttpClient's
     * reuse checks ({@code LeaseChecks}, through {@link HttpConnector#validate}) on idle ones.
     */
    private Lease<HttpConnection> take(Endpoint endpoint, HttpRoute route, boolean fresh, Duration wait) throws IOException {
        Lease<HttpConnection> lease = fresh ? pool.leaseNew(endpoint, wait) : pool.lease(endpoint, wait);
        if (lease.isReused()) {
            ConnectionConfig config = configs.connectionConfig(route);
            HttpConnection c = lease.connection();
            c.managed().activate(); // restores the socket timeout it was bound with (SocketConfig)
            if (config.getSocketTimeout() != null) {
                c.managed().setSocketTimeout(SubMillisecondTimeouts.roundedUp(config.getSocketTimeout()));
            }
        }
        return lease;
    }

    /** HttpClient's {@code release}: pools the connection again if it is fit, or discards it. */
    public void release(ConnectionEndpoint endpoint, Object newState, TimeValue validDuration) {
        PooledEndpoint pe = cast(endpoint);
        leased.remove(pe);
        Lease<HttpConnection> lease = pe.detach();
        if (lease == null) {
            return;
        }
        if (!pe.isDiscarded()) {
            HttpConnection c = lease.connection();
            boolean consistent = c.managed().isOpen() && c.managed().isConsistent() && !c.hasBufferedInput();
            // HttpClient's meaning: null = do not reuse; zero or less = reuse with no time limit.
            if (consistent && validDuration != null && !c.closeExpected()) {
                c.managed().passivate();
                long now = System.nanoTime();
                PooledEndpoint.released(c, newState, now,
                        TimeValue.isPositive(validDuration) ? now + validDuration.toNanoseconds() : Long.MAX_VALUE);
                if (c.keepAliveHintMillis() > 0) {
                    pool.hintIdleTimeout(lease.endpoint(), Duration.ofMillis(c.keepAliveHintMillis()));
                }
                if (!Objects.equals(newState, ((RouteKey) lease.endpoint().qualifier()).state())) {
                    lease.moveTo(routes.endpointOf(pe.route(), newState)); // from now on it serves that user only
                }
            } else {
                PooledEndpoint.discard(lease, consistent);
            }
        }
        lease.close();
    }

    /** Aborts (RST) every connection in use, so requests in flight fail at once. */
    public void abortLeased() {
        for (PooledEndpoint pe : leased) {
            pe.close(CloseMode.IMMEDIATE);
        }
    }

    /**
     * The wait for a pooled connection. Zero (disabled) is HttpClient's "no timeout"; any other
     * timeout is waited for to the nanosecond, so a positive one under 1 ms is not taken for 0.
     */
    private static Duration toDuration(Timeout timeout, Timeout requestTimeout) {
        Timeout t = timeout != null && !timeout.isDisabled() ? timeout : requestTimeout;
        if (t == null || t.isDisabled() || t.toNanoseconds() <= 0) {
            return Duration.ofDays(365);
        }
        return Duration.ofNanos(t.toNanoseconds());
    }

    /** The endpoint as ours; HttpClient hands back only what this manager leased. */
    static PooledEndpoint cast(ConnectionEndpoint endpoint) {
        if (endpoint instanceof PooledEndpoint) {
            return (PooledEndpoint) endpoint;
        }
        throw new IllegalStateException("Unexpected endpoint class: " + endpoint.getClass().getName());
    }
}
