package io.github.portkeeper.spring.boot;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ConnectionRequestTimeoutException;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.http.client.HttpClientSettings;
import org.springframework.boot.http.client.HttpComponentsClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.autoconfigure.ClientHttpRequestFactoryBuilderCustomizer;
import org.springframework.boot.http.client.autoconfigure.HttpClientAutoConfiguration;
import org.springframework.boot.http.client.autoconfigure.imperative.ImperativeHttpClientAutoConfiguration;
import org.springframework.boot.http.converter.autoconfigure.HttpMessageConvertersAutoConfiguration;
import org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslStoreBundle;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpResponse;
import org.springframework.web.client.ResourceAccessException;
import org.springframework.web.client.RestClient;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * How long Boot's clients and the {@code CloseableHttpClient} bean wait for a connection, and
 * which settings the pools for SSL bundles take, when the application brings its own
 * {@link PortkeeperConnectionManager} or sets the connection request timeout itself.
 */
class ApplicationsOwnManagerTest {

    /** Far below {@code portkeeper.pool.lease-timeout}'s 10 s default, and far below the bound the tests allow. */
    private static final Duration OWN_LEASE_TIMEOUT = Duration.ofMillis(300);

    private static final SocketConfig OWN_SOCKET_CONFIG = SocketConfig.custom().setSoKeepAlive(true).build();

    /** Far below {@code portkeeper.http.socket-timeout}'s 3 min default, and far below the bound the tests allow. */
    private static final Duration OWN_SOCKET_TIMEOUT = Duration.ofMillis(300);

    private static HttpServer server;
    private static ExecutorService executor;
    private static String baseUrl;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class,
                    SslAutoConfiguration.class, HttpClientAutoConfiguration.class, ImperativeHttpClientAutoConfiguration.class,
                    HttpMessageConvertersAutoConfiguration.class, RestClientAutoConfiguration.class));

    @BeforeAll
    static void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/hello", exchange -> {
            byte[] body = "hello".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        executor = Executors.newFixedThreadPool(4);
        server.setExecutor(executor);
        server.start();
        baseUrl = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterAll
    static void stopServer() {
        server.stop(0);
        executor.shutdownNow();
    }

    @Test
    void bootsClientsWaitTheLeaseTimeoutOfTheApplicationsOwnManager() {
        runner.withUserConfiguration(OneConnectionManager.class).run(context -> {
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            // The response left open holds the pool's only connection.
            ClientHttpResponse held = client.get().uri("/hello").exchange((request, response) -> response, false);
            try {
                long start = System.nanoTime();
                assertThatThrownBy(() -> client.get().uri("/hello").retrieve().body(String.class))
                        .isInstanceOf(ResourceAccessException.class)
                        .hasRootCauseInstanceOf(ConnectionRequestTimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start))
                        .as("the wait for a connection: the manager's 300 ms, not portkeeper.pool.lease-timeout's 10 s")
                        .isLessThan(Duration.ofSeconds(5));
            } finally {
                held.close();
            }
            assertThat(manager.pool().stats().active()).isZero();
        });
    }

    @Test
    void theCloseableHttpClientBeanWaitsTheLeaseTimeoutOfTheApplicationsOwnManager() {
        runner.withUserConfiguration(OneConnectionManager.class).run(context -> {
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            CloseableHttpClient client = context.getBean(CloseableHttpClient.class);
            ClassicHttpResponse held = client.executeOpen(null, new HttpGet(baseUrl + "/hello"), null);
            try {
                long start = System.nanoTime();
                assertThatThrownBy(() -> client.execute(new HttpGet(baseUrl + "/hello"), response -> EntityUtils.toString(response.getEntity())))
                        .isInstanceOf(ConnectionRequestTimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start))
                        .as("the wait for a connection: the manager's 300 ms, not portkeeper.pool.lease-timeout's 10 s")
                        .isLessThan(Duration.ofSeconds(5));
            } finally {
                held.close();
            }
            assertThat(manager.pool().stats().active()).isZero();
        });
    }

    @Test
    void aConnectionRequestTimeoutACustomizerSetsToThreeMinutesIsKept() {
        runner.withUserConfiguration(ThreeMinuteRequestTimeout.class)
                .withPropertyValues("portkeeper.pool.max-per-endpoint=1", "portkeeper.pool.lease-timeout=" + OWN_LEASE_TIMEOUT.toMillis() + "ms")
                .run(context -> {
                    PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
                    RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
                    ClientHttpResponse held = client.get().uri("/hello").exchange((request, response) -> response, false);
                    CompletableFuture<String> second;
                    try {
                        second = CompletableFuture.supplyAsync(() -> client.get().uri("/hello").retrieve().body(String.class));
                        await().atMost(Duration.ofSeconds(10)).until(() -> manager.pool().stats().pending() == 1);
                        // Well past the pool's lease timeout, the request still waits: the customizer's 3 minutes hold.
                        await("the second request still waiting for a connection").during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
                                .until(() -> !second.isDone());
                    } finally {
                        held.close();
                    }
                    assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo("hello");
                });
    }

    @Test
    void anSslBundlesPoolTakesThePoolSettingsOfTheApplicationsOwnManager() {
        runner.withUserConfiguration(OneConnectionManager.class).run(context -> {
            PortkeeperConnectionManager primary = context.getBean(PortkeeperConnectionManager.class);
            PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            HttpClientSettings withBundle = HttpClientSettings.ofSslBundle(SslBundle.of(SslStoreBundle.NONE));
            PortkeeperConnectionManager tlsManager = builder.connectionManager(withBundle);
            assertThat(tlsManager.getDefaultSocketConfig()).isSameAs(primary.getDefaultSocketConfig()).isSameAs(OWN_SOCKET_CONFIG);
            PoolConfig tls = tlsManager.pool().config();
            PoolConfig own = primary.pool().config();
            assertThat(tls.name()).isEqualTo("mine-ssl");
            assertThat(tls.maxPerEndpoint()).isEqualTo(own.maxPerEndpoint()).isEqualTo(1);
            assertThat(tls.maxTotal()).isEqualTo(own.maxTotal()).isEqualTo(1);
            assertThat(tls.leaseTimeout()).isEqualTo(own.leaseTimeout()).isEqualTo(OWN_LEASE_TIMEOUT);
            assertThat(tls.maxIdleTime()).isEqualTo(own.maxIdleTime()).isEqualTo(Duration.ofSeconds(7));
        });
    }

    @Test
    void anSslBundlesPoolTimesOutAReadAfterTheSocketTimeoutOfTheApplicationsOwnManager() throws Exception {
        try (SilentServer silent = new SilentServer()) {
            runner.withUserConfiguration(OneConnectionManager.class).run(context -> {
                PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
                HttpClientSettings withBundle = HttpClientSettings.ofSslBundle(SslBundle.of(SslStoreBundle.NONE));
                ClientHttpRequestFactory factory = builder.build(withBundle);
                PortkeeperConnectionManager tlsManager = builder.connectionManager(withBundle);
                long start = System.nanoTime();
                CompletableFuture<Throwable> failure = CompletableFuture.supplyAsync(() -> {
                    try (ClientHttpResponse response = factory.createRequest(URI.create(silent.url()), HttpMethod.GET).execute()) {
                        return new AssertionError("answered " + response.getStatusCode());
                    } catch (Throwable e) {
                        return e;
                    }
                });
                // portkeeper.http.socket-timeout (3 min) would keep the request waiting far beyond this bound.
                assertThat(failure).succeedsWithin(Duration.ofSeconds(20)).isInstanceOf(SocketTimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start))
                        .as("the wait for the silent server's answer: the manager's 300 ms socket timeout")
                        .isGreaterThanOrEqualTo(OWN_SOCKET_TIMEOUT.minusMillis(50))
                        .isLessThan(Duration.ofSeconds(10));
                assertThat(tlsManager.pool().stats().active()).isZero();
            });
        }
    }

    /** Accepts connections and never answers, for read timeouts; closing it closes them. */
    private static final class SilentServer implements AutoCloseable {
        private final ServerSocket serverSocket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final List<Socket> accepted = new CopyOnWriteArrayList<>();
        private final Thread acceptor = new Thread(this::acceptAll, "silent-server");

        SilentServer() throws IOException {
            acceptor.setDaemon(true);
            acceptor.start();
        }

        String url() {
            return "http://127.0.0.1:" + serverSocket.getLocalPort() + "/never";
        }

        private void acceptAll() {
            try {
                while (true) {
                    accepted.add(serverSocket.accept());
                }
            } catch (IOException closed) {
                // The server was closed.
            }
        }

        @Override
        public void close() throws IOException {
            serverSocket.close();
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class OneConnectionManager {
        @Bean
        PortkeeperConnectionManager myManager() {
            return PortkeeperConnectionManager.builder()
                    .poolConfig(PoolConfig.builder().name("mine").maxPerEndpoint(1).maxTotal(1)
                            .leaseTimeout(OWN_LEASE_TIMEOUT).maxIdleTime(Duration.ofSeconds(7)).build())
                    .setDefaultSocketConfig(OWN_SOCKET_CONFIG)
                    .setDefaultConnectionConfig(ConnectionConfig.custom()
                            .setConnectTimeout(Timeout.ofSeconds(5))
                            .setSocketTimeout(Timeout.of(OWN_SOCKET_TIMEOUT))
                            .build())
                    .build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class ThreeMinuteRequestTimeout {
        @Bean
        ClientHttpRequestFactoryBuilderCustomizer<HttpComponentsClientHttpRequestFactoryBuilder> threeMinutes() {
            return builder -> builder.withDefaultRequestConfigCustomizer(
                    (RequestConfig.Builder config) -> config.setConnectionRequestTimeout(Timeout.ofMinutes(3)));
        }
    }
}
