package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.rpc.testing.Leaks;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The per-endpoint circuit breakers live as long as what they guard: a breaker leaves its
 * registry when the pool forgets its endpoint (unless its circuit is open) and when the client
 * closes, and two open clients never share breakers by sharing a name and a registry.
 */
class CircuitBreakerLifecycleTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration FORGET_WAIT = Duration.ofSeconds(30);

    private FrameServer server;
    private RpcClient<String, String> client;

    @AfterEach
    void noLeaks() throws Exception {
        Leaks.assertNoneAndClose(client == null ? null : client.pool(), client, server);
    }

    @Test
    void theBreakerOfAnEndpointThePoolForgetsLeavesTheRegistry() throws Exception {
        server = FrameServer.start(Framing.LINES);
        CircuitBreakerRegistry registry = CircuitBreakerRegistry.ofDefaults();
        AtomicInteger created = new AtomicInteger();
        registry.getEventPublisher().onEntryAdded(e -> created.incrementAndGet());
        client = RpcClient.builder(LineCodec.utf8(1024).withGoodbye(FrameServer.GOODBYE))
                .poolConfig(PoolConfig.builder().name("forgetful").maxIdleTime(Duration.ofMillis(200)).build())
                .circuitBreakerRegistry(registry)
                .build();
        int endpoints = 50;
        for (int i = 0; i < endpoints; i++) {
            // The qualifier makes each its own endpoint (and breaker) on the one test server.
            Endpoint endpoint = Endpoint.of(server.host(), server.port(), "tenant-" + i);
            assertThat(client.call(endpoint, "hello " + i, TIMEOUT)).isEqualTo("hello " + i);
        }
        assertThat(created).as("breakers created").hasValue(endpoints);

        await().atMost(FORGET_WAIT).untilAsserted(() -> assertThat(client.pool().endpoints()).as("endpoints the pool knows").isEmpty());
        await().atMost(FORGET_WAIT).untilAsserted(() ->
                assertThat(registry.getAllCircuitBreakers()).as("breakers left in the registry").isEmpty());

        Endpoint back = Endpoint.of(server.host(), server.port(), "tenant-0");
        assertThat(client.call(back, "back", TIMEOUT)).as("an endpoint called again gets a breaker again").isEqualTo("back");
        assertThat(registry.getAllCircuitBreakers()).extracting(CircuitBreaker::getName)
                .containsExactly("forgetful@" + back.host() + ":" + back.port() + "/tenant-0");
    }

    @Test
    void anOpenBreakerIsKeptWhenThePoolForgetsItsEndpoint() throws Exception {
        Endpoint dead = Endpoint.of("127.0.0.1", freePort()); // connects are refused
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().name("keeps-open").maxIdleTime(Duration.ofMillis(200)).build())
                .circuitBreaker(CircuitBreakerConfig.custom()
                        .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(50)
                        .waitDurationInOpenState(Duration.ofMinutes(10)).build())
                .noRetry()
                .build();
        Set<Endpoint> forgotten = ConcurrentHashMap.newKeySet();
        // Added after the client's own listener, so it hears each removal after the client did.
        client.pool().addListener(new PoolListener() {
            @Override
            public void endpointRemoved(Endpoint endpoint) {
                forgotten.add(endpoint);
            }
        });
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> client.call(dead, "ping", TIMEOUT)).isInstanceOf(RpcConnectException.class);
        }
        CircuitBreaker breaker = client.circuitBreaker(dead).orElseThrow();
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);

        await().atMost(FORGET_WAIT).untilAsserted(() -> assertThat(forgotten).as("endpoints the pool forgot").contains(dead));

        assertThat(client.circuitBreaker(dead)).as("the breaker after the pool forgot the endpoint").containsSame(breaker);
        assertThatThrownBy(() -> client.call(dead, "ping", TIMEOUT)).isInstanceOf(RpcCircuitOpenException.class);
    }

    @Test
    void closingTheClientRemovesItsBreakersFromASharedRegistry() throws Exception {
        server = FrameServer.start(Framing.LINES);
        CircuitBreakerRegistry shared = CircuitBreakerRegistry.ofDefaults();
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        try (RpcClient<String, String> other = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().name("other").build())
                .circuitBreakerRegistry(shared)
                .build()) {
            client = RpcClient.builder(LineCodec.utf8(1024))
                    .poolConfig(PoolConfig.builder().name("closing").build())
                    .circuitBreakerRegistry(shared)
                    .build();
            assertThat(client.call(endpoint, "a", TIMEOUT)).isEqualTo("a");
            assertThat(other.call(endpoint, "b", TIMEOUT)).isEqualTo("b");
            assertThat(shared.getAllCircuitBreakers()).hasSize(2);

            client.close();

            assertThat(shared.getAllCircuitBreakers()).extracting(CircuitBreaker::getName)
                    .containsExactly("other@" + endpoint);
            assertThatThrownBy(() -> client.call(endpoint, "late", TIMEOUT)).isInstanceOf(RpcException.class);
            assertThat(shared.getAllCircuitBreakers()).as("a call after close leaves no breaker behind").hasSize(1);
        }
        assertThat(shared.getAllCircuitBreakers()).isEmpty();
    }

    @Test
    void aSecondOpenClientOfTheSameNameIsRefusedTheSameRegistry() {
        CircuitBreakerRegistry shared = CircuitBreakerRegistry.ofDefaults();
        RpcClient.Builder<String, String> builder = RpcClient.builder(LineCodec.utf8(1024)).circuitBreakerRegistry(shared);
        client = builder.build();

        assertThatThrownBy(builder::build)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("circuitBreakerRegistry already holds the breakers of an open RpcClient named 'rpc'; "
                        + "give each client that shares a registry its own name (PoolConfig name)");

        try (RpcClient<String, String> separate = RpcClient.builder(LineCodec.utf8(1024))
                .circuitBreaker(CircuitBreakerConfig.ofDefaults()).build()) {
            assertThat(separate.name()).as("the same name with a registry of its own").isEqualTo("rpc");
        }
        client.close();
        client = builder.build(); // the name is free again once the first client closed
        assertThat(client.name()).isEqualTo("rpc");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
