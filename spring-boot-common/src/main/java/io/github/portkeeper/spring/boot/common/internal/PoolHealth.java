package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.PortBudgetSnapshot;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The health of the Portkeeper pools, independent of Spring Boot's health API (which differs
 * between Boot 3 and Boot 4): the port budget of each endpoint and, on Linux, the kernel's count
 * of TIME_WAIT and CLOSE_WAIT sockets toward the pools' endpoints. DOWN when an endpoint uses its
 * whole port budget; endpoints at or above the warn ratio are listed under {@code warnings}.
 *
 * <p>Thread-safe. Each check reads {@code /proc/net/tcp{,6}} once (a few ms on a busy host).
 */
public final class PoolHealth {

    private final PortkeeperPools pools;
    private final KernelProbe probe;
    private final double warnRatio;
    private final Map<Endpoint, List<InetSocketAddress>> addresses = new ConcurrentHashMap<>();

    /**
     * @param pools     the pools to report
     * @param probe     the kernel probe for the TIME_WAIT and CLOSE_WAIT counts
     * @param warnRatio budget share from which an endpoint is named in {@code warnings}
     */
    public PoolHealth(PortkeeperPools pools, KernelProbe probe, double warnRatio) {
        this.pools = Objects.requireNonNull(pools, "pools");
        this.probe = Objects.requireNonNull(probe, "probe");
        this.warnRatio = warnRatio;
    }

    /**
     * Checks every pool.
     *
     * @return whether an endpoint has used up its budget, and the details
     */
    public Report check() {
        SocketTable kernel = kernelSnapshot();
        Map<String, Object> poolDetails = new LinkedHashMap<>();
        List<String> warnings = new ArrayList<>();
        List<String> exhausted = new ArrayList<>();
        Set<Endpoint> live = new HashSet<>();
        for (Pool<?> pool : pools.pools()) {
            poolDetails.put(pool.name(), poolDetails(pool, kernel, warnings, exhausted));
            live.addAll(pool.endpoints());
        }
        // The cache follows the pools' live endpoints: one a pool forgot is forgotten here too,
        // and resolved afresh should it come back.
        addresses.keySet().retainAll(live);
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("pools", poolDetails);
        if (!exhausted.isEmpty()) {
            details.put("exhausted", exhausted);
        }
        if (!warnings.isEmpty()) {
            details.put("warnings", warnings);
        }
        return new Report(!exhausted.isEmpty(), details);
    }

    private Map<String, Object> poolDetails(Pool<?> pool, SocketTable kernel, List<String> warnings, List<String> exhausted) {
        Map<String, Object> d = new LinkedHashMap<>();
        PoolStats stats = pool.stats();
        d.put("closed", pool.isClosed());
        d.put("active", stats.active());
        d.put("idle", stats.idle());
        d.put("draining", stats.draining());
        d.put("pending", stats.pending());
        PortBudgetSnapshot snapshot = pool.portBudget();
        PortBudget budget = snapshot.budget();
        Map<String, Object> budgetDetails = new LinkedHashMap<>();
        budgetDetails.put("enabled", budget.isEnabled());
        if (budget.isEnabled()) {
            budgetDetails.put("range", budget.rangeLow() + "-" + budget.rangeHigh());
            budgetDetails.put("share", budget.share());
            budgetDetails.put("perEndpoint", budget.perEndpoint());
            budgetDetails.put("maxUsedRatio", round(snapshot.maxUsedRatio()));
        }
        d.put("portBudget", budgetDetails);
        Map<String, Object> endpoints = new LinkedHashMap<>();
        for (Map.Entry<Endpoint, PortBudgetSnapshot.EndpointBudget> e : snapshot.endpoints().entrySet()) {
            String name = e.getKey().toString();
            PortBudgetSnapshot.EndpointBudget b = e.getValue();
            Map<String, Object> ed = new LinkedHashMap<>();
            ed.put("used", b.used());
            ed.put("budget", b.budget());
            ed.put("usedRatio", round(b.usedRatio()));
            ed.put("live", b.live());
            ed.put("recentTimeWait", b.recentTimeWait());
            ed.put("otherSockets", b.otherSockets());
            // Endpoints that differ only by qualifier (TLS, user token) print alike; keep the fullest.
            Object previous = endpoints.get(name);
            if (previous == null || (double) ((Map<?, ?>) previous).get("usedRatio") < b.usedRatio()) {
                endpoints.put(name, ed);
            }
            String where = pool.name() + " -> " + name + " uses " + b.used() + " of " + b.budget() + " ports";
            if (budget.isEnabled() && b.usedRatio() >= 1) {
                exhausted.add(where);
            } else if (budget.isEnabled() && b.usedRatio() >= warnRatio) {
                warnings.add(where);
            }
        }
        d.put("endpoints", endpoints);
        if (kernel != null) {
            List<InetSocketAddress> remotes = remotes(pool);
            Map<String, Object> k = new LinkedHashMap<>();
            k.put("timeWait", kernel.countToRemotes(TcpState.TIME_WAIT, remotes));
            k.put("closeWait", kernel.countToRemotes(TcpState.CLOSE_WAIT, remotes));
            d.put("kernel", k);
        }
        return d;
    }

    private SocketTable kernelSnapshot() {
        if (!probe.isAvailable()) {
            return null;
        }
        try {
            return probe.snapshot();
        } catch (RuntimeException unreadable) {
            return null; // Health must not fail because /proc could not be read; the budget still reports.
        }
    }

    private List<InetSocketAddress> remotes(Pool<?> pool) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (Endpoint e : pool.endpoints()) {
            List<InetSocketAddress> resolved = addresses.get(e);
            if (resolved == null) {
                resolved = resolve(e);
                if (!resolved.isEmpty()) {
                    addresses.put(e, resolved);
                }
            }
            out.addAll(resolved);
        }
        return out;
    }

    private static List<InetSocketAddress> resolve(Endpoint e) {
        List<InetSocketAddress> out = new ArrayList<>();
        try {
            for (InetAddress a : InetAddress.getAllByName(e.host())) {
                out.add(new InetSocketAddress(a, e.port()));
            }
        } catch (UnknownHostException ignored) {
            // Not resolvable now: no socket can point at it either; tried again next time.
        }
        return out;
    }

    /** How many endpoints' addresses are cached, for tests. */
    int cachedEndpoints() {
        return addresses.size();
    }

    private static double round(double ratio) {
        return Math.round(ratio * 1000) / 1000.0;
    }

    /**
     * The outcome of a check.
     *
     * @param down    whether an endpoint uses its whole port budget
     * @param details the health details, per pool
     */
    public record Report(boolean down, Map<String, Object> details) {
    }
}
