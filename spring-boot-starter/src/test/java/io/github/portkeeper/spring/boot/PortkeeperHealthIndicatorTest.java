package io.github.portkeeper.spring.boot;

import io.github.portkeeper.spring.boot.common.PortkeeperMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.SocketPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PortkeeperHealthIndicatorTest {

    private ServerSocket server;
    private final List<Socket> accepted = new ArrayList<>();
    private final List<Socket> leased = new ArrayList<>();
    private SocketPool pool;
    private PortkeeperHealthIndicator indicator;

    @BeforeEach
    void setUp() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    Socket s = server.accept();
                    synchronized (accepted) {
                        accepted.add(s);
                    }
                }
            } catch (IOException closed) {
                // server closed
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        // A budget of 10 ports per endpoint, counting only this pool's sockets.
        PortBudget budget = PortBudget.ofRange(50000, 50009).withShare(1.0).withKernelCounting(false);
        pool = SocketPool.builder().poolConfig(PoolConfig.builder().name("sockets").maxPerEndpoint(20).maxTotal(20)
                .portBudget(budget).build()).build();
        PortkeeperPools pools = new PortkeeperPools();
        pools.register(pool.pool());
        indicator = new PortkeeperHealthIndicator(pools, KernelProbe.linux(), 0.9);
    }

    @AfterEach
    void tearDown() throws IOException {
        for (Socket s : leased) {
            s.close();
        }
        pool.close();
        server.close();
        synchronized (accepted) {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    private void lease(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            leased.add(pool.socket("127.0.0.1", server.getLocalPort()));
        }
    }

    @Test
    void upWithBudgetUsageAndKernelCountsPerEndpoint() throws IOException {
        lease(3);
        Health health = indicator.health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        Map<?, ?> sockets = (Map<?, ?>) ((Map<?, ?>) health.getDetails().get("pools")).get("sockets");
        assertThat(sockets.get("active")).isEqualTo(3);
        Map<?, ?> endpoint = (Map<?, ?>) ((Map<?, ?>) sockets.get("endpoints")).get("127.0.0.1:" + server.getLocalPort());
        assertThat(endpoint.get("used")).isEqualTo(3);
        assertThat(endpoint.get("budget")).isEqualTo(10);
        assertThat(endpoint.get("usedRatio")).isEqualTo(0.3);
        if (KernelProbe.linux().isAvailable()) {
            Map<?, ?> kernel = (Map<?, ?>) sockets.get("kernel");
            assertThat(kernel.get("timeWait")).isEqualTo(0);
            assertThat(kernel.get("closeWait")).isEqualTo(0);
        }
        assertThat(health.getDetails()).doesNotContainKey("warnings");
    }

    @Test
    void upWithAWarningFromTheWarnRatio() throws IOException {
        lease(9);
        Health health = indicator.health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat((List<?>) health.getDetails().get("warnings")).singleElement().asString()
                .contains("sockets -> 127.0.0.1:" + server.getLocalPort() + " uses 9 of 10 ports");
    }

    @Test
    void downWhenAnEndpointUsesItsWholeBudget() throws IOException {
        lease(10);
        Health health = indicator.health();
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat((List<?>) health.getDetails().get("exhausted")).singleElement().asString().contains("uses 10 of 10 ports");
    }
}
