package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.Ticker;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class PoolHealthTest {

    private static final int ENDPOINTS = 5;

    @TempDir
    Path dir;

    @Test
    void theAddressesOfEndpointsThePoolHasForgottenAreForgottenByTheHealthCheckToo() throws IOException {
        // An empty socket table in /proc/net/tcp's format: the kernel part of the check runs on any OS.
        Files.writeString(dir.resolve("tcp"),
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        KernelProbe probe = KernelProbe.reading(dir.resolve("tcp"), dir.resolve("tcp6"));
        // The pool's time moves only when the test moves it: no endpoint is forgotten before all
        // were seen, however slowly a loaded machine connects them.
        AtomicLong nanos = new AtomicLong();
        Ticker ticker = nanos::get;
        PoolConfig config = PoolConfig.builder().name("sockets").maxIdleTime(Duration.ofMillis(200))
                .retirement(Retirement.reset()).ticker(ticker).build();
        List<ServerSocket> servers = new ArrayList<>();
        try (SocketPool sockets = SocketPool.builder().poolConfig(config).build()) {
            PortkeeperPools pools = new PortkeeperPools();
            pools.register(sockets.pool());
            PoolHealth health = new PoolHealth(pools, probe, 0.9);
            for (int i = 0; i < ENDPOINTS; i++) {
                ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                servers.add(server);
                try (Socket socket = sockets.socket("127.0.0.1", server.getLocalPort());
                     Socket accepted = server.accept()) {
                    assertThat(socket.isConnected()).isTrue();
                    assertThat(accepted.isConnected()).isTrue();
                    health.check();
                }
            }
            assertThat(health.cachedEndpoints()).isEqualTo(ENDPOINTS);

            await().atMost(Duration.ofSeconds(30)).until(() -> {
                nanos.addAndGet(Duration.ofSeconds(1).toNanos());
                return sockets.pool().endpoints().isEmpty();
            });
            health.check();

            assertThat(health.cachedEndpoints()).isZero();
        } finally {
            for (ServerSocket server : servers) {
                server.close();
            }
        }
    }
}
