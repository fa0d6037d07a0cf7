package io.github.portkeeper.spring.boot3;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.internal.PoolHealth;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * Health of the Portkeeper pools ({@code /actuator/health/portkeeper}): the port budget of each
 * endpoint and, on Linux, the kernel's count of TIME_WAIT and CLOSE_WAIT sockets toward the
 * pools' endpoints.
 *
 * <ul>
 *   <li>{@code DOWN} when an endpoint uses its whole port budget (usedRatio &ge; 1): a lease
 *       that needs a new connection to it waits up to the lease timeout
 *       ({@code portkeeper.pool.lease-timeout}) for an idle connection or a freed port, and
 *       fails with {@code PortBudgetExhaustedException} if none comes;</li>
 *   <li>{@code UP} otherwise, with a {@code warnings} detail naming each endpoint at or above
 *       {@code portkeeper.health.warn-ratio} (default 0.9) of its budget.</li>
 * </ul>
 * Details per pool: connections by state, the budget settings, per endpoint
 * {@code used/budget} with its parts, and {@code kernel.timeWait}/{@code kernel.closeWait}
 * where the kernel probe is available.
 *
 * <p>Thread-safe. Each check reads {@code /proc/net/tcp{,6}} once (a few ms on a busy host).
 */
public final class PortkeeperHealthIndicator implements HealthIndicator {

    private final PoolHealth check;

    /**
     * @param pools     the pools to report
     * @param probe     the kernel probe for the TIME_WAIT and CLOSE_WAIT counts
     * @param warnRatio budget share from which an endpoint is named in {@code warnings}
     */
    public PortkeeperHealthIndicator(PortkeeperPools pools, KernelProbe probe, double warnRatio) {
        this.check = new PoolHealth(pools, probe, warnRatio);
    }

    /**
     * Checks every pool.
     *
     * @return UP or DOWN with the pools' details
     */
    @Override
    public Health health() {
        PoolHealth.Report report = check.check();
        return (report.down() ? Health.down() : Health.up()).withDetails(report.details()).build();
    }
}
