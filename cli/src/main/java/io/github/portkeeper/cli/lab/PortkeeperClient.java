package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.http.PortkeeperHttpClients;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.io.IOException;
import java.net.URI;

/**
 * {@code PortkeeperHttpClients} with the pool's defaults and its Micrometer meters bound to a
 * registry of its own, from which the lab reads connections opened and how they ended.
 */
final class PortkeeperClient implements LabClient {

    private final PortkeeperConnectionManager manager;
    private final PoolMetrics metrics;
    private final MeterRegistry registry = new SimpleMeterRegistry();
    private final CloseableHttpClient client;
    private final URI uri;

    PortkeeperClient(URI uri) {
        this.uri = uri;
        this.manager = PortkeeperConnectionManager.builder()
                .poolConfig(PoolConfig.builder().name("lab").build())
                .build();
        this.metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(registry);
        this.client = PortkeeperHttpClients.custom().connectionManager(manager).build();
    }

    @Override
    public void get() throws IOException {
        int status = client.execute(new HttpGet(uri), response -> {
            EntityUtils.consume(response.getEntity());
            return response.getCode();
        });
        if (status >= 400) {
            throw new HttpStatusException(status);
        }
    }

    @Override
    public void close() throws IOException {
        client.close();
    }

    /** The pool's per-endpoint limit. */
    int maxPerEndpoint() {
        return manager.pool().config().maxPerEndpoint();
    }

    /** Whether the pool holds no connection at all (leased, idle or draining). */
    boolean holdsNoConnection() {
        PoolStats s = manager.pool().stats();
        return s.active() + s.idle() + s.draining() == 0;
    }

    /** {@code portkeeper.connections.opened}. */
    long connectionsOpened() {
        return sum("portkeeper.connections.opened", null);
    }

    /** {@code portkeeper.connections.closed{closed.by=…}}. */
    long closedBy(String by) {
        return sum("portkeeper.connections.closed", by);
    }

    /** {@code portkeeper.timewait.avoided}; final once the client is closed. */
    long timeWaitAvoided() {
        return metrics.timeWaitAvoided();
    }

    /** {@code portkeeper.timewait.caused}. */
    long timeWaitCaused() {
        return metrics.timeWaitCaused();
    }

    private long sum(String name, String closedBy) {
        var search = registry.find(name);
        if (closedBy != null) {
            search = search.tag("closed.by", closedBy);
        }
        double total = 0;
        for (Counter c : search.counters()) {
            total += c.count();
        }
        return Math.round(total);
    }
}
