package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.rpc.micrometer.RpcMetrics;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.retry.RetryConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Resilience4j's meters are bound alongside Portkeeper's. */
class RpcMetricsTest {

    @Test
    void bindsPoolBreakerAndRetryMeters() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (FrameServer server = FrameServer.start(Framing.LINES);
             RpcClient<String, String> client = RpcClient.builder(LineCodec.utf8(64))
                     .poolConfig(PoolConfig.builder().name("lines").build())
                     .circuitBreaker(CircuitBreakerConfig.ofDefaults())
                     .build()) {
            RpcMetrics.bind(client, registry);
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            client.call(endpoint, "hi", Duration.ofSeconds(2), Idempotency.IDEMPOTENT);
            client.call(endpoint, "hi", Duration.ofSeconds(2));

            assertThat(registry.get("portkeeper.connections.opened").tag("pool", "lines").counter().count()).isEqualTo(1);
            assertThat(registry.get("portkeeper.leases").tag("pool", "lines").tag("outcome", "reused").counter().count()).isEqualTo(1);
            assertThat(registry.get("resilience4j.circuitbreaker.calls").tag("name", "lines@" + endpoint)
                    .tag("kind", "successful").timer().count()).isEqualTo(2);
            assertThat(registry.get("resilience4j.circuitbreaker.state").tag("name", "lines@" + endpoint)
                    .tag("state", "closed").gauge().value()).isEqualTo(1);
            assertThat(registry.get("resilience4j.retry.calls").tag("name", "lines")
                    .tag("kind", "successful_without_retry").functionCounter().count()).isEqualTo(1);
        }
    }

    @Test
    void aCallCutAtTheDeadlineCountsInTheRetryMeterAsFailedWithoutRetry() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // nothing listens there once closed: connects are refused
        }
        try (RpcClient<String, String> client = RpcClient.builder(LineCodec.utf8(64))
                .poolConfig(PoolConfig.builder().name("cut").build())
                .retry(RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMinutes(1)).build())
                .build()) {
            RpcMetrics.bind(client, registry);
            Endpoint endpoint = Endpoint.of("127.0.0.1", port);
            assertThatThrownBy(() -> client.call(endpoint, "read", Duration.ofSeconds(2), Idempotency.IDEMPOTENT))
                    .isInstanceOf(RpcConnectException.class);

            assertThat(registry.get("resilience4j.retry.calls").tag("name", "cut")
                    .tag("kind", "failed_without_retry").functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("resilience4j.retry.calls").tag("name", "cut").functionCounters())
                    .as("all four kinds").hasSize(4)
                    .extracting(c -> c.count()).containsExactlyInAnyOrder(1.0, 0.0, 0.0, 0.0);
        }
    }

    @Test
    void requestsTheCodecRefusesCountNoLeaseAndNoAvoidedTimeWait() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (FrameServer server = FrameServer.start(Framing.LINES);
             RpcClient<String, String> client = RpcClient.builder(LineCodec.utf8(64))
                     .poolConfig(PoolConfig.builder().name("lines").build())
                     .build()) {
            RpcMetrics.bind(client, registry);
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            assertThat(client.call(endpoint, "good", Duration.ofSeconds(2))).isEqualTo("good");
            for (int i = 0; i < 100; i++) {
                assertThatThrownBy(() -> client.call(endpoint, "a\nb", Duration.ofSeconds(2)))
                        .isInstanceOf(IllegalArgumentException.class);
            }

            assertThat(registry.get("portkeeper.leases").tag("pool", "lines").tag("outcome", "reused").counter().count())
                    .as("reused leases").isZero();
            assertThat(registry.get("portkeeper.timewait.avoided").tag("pool", "lines").functionCounter().count())
                    .as("TIME_WAIT avoided: never more than the requests served (1)").isLessThanOrEqualTo(1);
            assertThat(server.served()).hasSize(1);
        }
    }
}
