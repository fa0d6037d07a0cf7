package io.github.portkeeper.spring.boot;

import io.github.portkeeper.spring.boot.common.PortkeeperMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.restclient.autoconfigure.RestClientSsl;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration;
import org.springframework.boot.health.autoconfigure.registry.HealthContributorRegistryAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.HttpClientSettings;
import org.springframework.boot.http.client.HttpComponentsClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.autoconfigure.ClientHttpRequestFactoryBuilderCustomizer;
import org.springframework.boot.http.client.autoconfigure.HttpClientAutoConfiguration;
import org.springframework.boot.http.client.autoconfigure.imperative.ImperativeHttpClientAutoConfiguration;
import org.springframework.boot.http.converter.autoconfigure.HttpMessageConvertersAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.restclient.RestTemplateBuilder;
import org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration;
import org.springframework.boot.restclient.autoconfigure.RestTemplateAutoConfiguration;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundleRegistry;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslStoreBundle;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;
import org.springframework.web.client.ResourceAccessException;
import org.springframework.web.client.RestClient;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PortkeeperAutoConfigurationTest {

    private static HttpServer server;
    private static String baseUrl;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class,
                    PortkeeperMetricsAutoConfiguration.class, PortkeeperHealthAutoConfiguration.class,
                    SslAutoConfiguration.class, HttpClientAutoConfiguration.class, ImperativeHttpClientAutoConfiguration.class,
                    HttpMessageConvertersAutoConfiguration.class, RestClientAutoConfiguration.class, RestTemplateAutoConfiguration.class,
                    MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                    HealthContributorAutoConfiguration.class, HealthContributorRegistryAutoConfiguration.class));

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
        server.createContext("/header", exchange -> {
            String value = String.valueOf(exchange.getRequestHeaders().getFirst("X-Customized"));
            byte[] body = value.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.createContext("/slow", exchange -> {
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        baseUrl = "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterAll
    static void stopServer() {
        server.stop(0);
    }

    @Test
    void everyBeanIsPresentByDefault() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).hasSingleBean(PortkeeperProperties.class);
            assertThat(context).hasSingleBean(PortkeeperPools.class);
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
            assertThat(context).hasSingleBean(CloseableHttpClient.class);
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
            assertThat(context).hasSingleBean(PortkeeperMetrics.class);
            assertThat(context).hasSingleBean(PortkeeperHealthIndicator.class);
            assertThat(context).hasBean("portkeeperHealthIndicator");
            assertThat(context).doesNotHaveBean(SocketPool.class);
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            assertThat(manager.pool().name()).isEqualTo("http");
            assertThat(context.getBean(PortkeeperPools.class).pools()).containsExactly(manager.pool());
        });
    }

    @Test
    void bootsRestClientBuilderGoesThroughThePool() {
        runner.run(context -> {
            RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            for (int i = 0; i < 20; i++) {
                assertThat(client.get().uri("/hello").retrieve().body(String.class)).isEqualTo("hello");
            }
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            assertThat(manager.pool().stats().idle()).isEqualTo(1);
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            assertThat(registry.get("portkeeper.connections.opened").tag("pool", "http").counter().count()).isEqualTo(1.0);
            assertThat(registry.get("portkeeper.timewait.avoided").functionCounter().count()).isGreaterThanOrEqualTo(19.0);
        });
    }

    @Test
    void bootsRestTemplateBuilderAndRequestFactoryGoThroughThePool() {
        runner.run(context -> {
            String body = context.getBean(RestTemplateBuilder.class).build().getForObject(baseUrl + "/hello", String.class);
            assertThat(body).isEqualTo("hello");
            ClientHttpRequestFactory factory = context.getBean(ClientHttpRequestFactory.class);
            assertThat(factory).isInstanceOf(HttpComponentsClientHttpRequestFactory.class);
            RestClient.builder().requestFactory(factory).build().get().uri(baseUrl + "/hello").retrieve().toBodilessEntity();
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            assertThat(manager.pool().stats().idle()).isEqualTo(1);
        });
    }

    @Test
    void theApplicationsBuilderCustomizersStillApply() {
        runner.withUserConfiguration(UserBuilderCustomizer.class).run(context -> {
            RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            assertThat(client.get().uri("/header").retrieve().body(String.class)).isEqualTo("yes");
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().stats().idle()).isEqualTo(1);
        });
    }

    @Test
    void anHttpClientCustomizerThatSetsItsOwnDefaultRequestConfigKeepsThePoolsLeaseTimeout() {
        runner.withUserConfiguration(UserRequestConfigCustomizer.class)
                .withPropertyValues("portkeeper.pool.max-per-endpoint=1", "portkeeper.pool.lease-timeout=200ms")
                .run(context -> {
                    RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
                    PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
                    java.util.concurrent.CompletableFuture<?> slow = java.util.concurrent.CompletableFuture.runAsync(
                            () -> client.get().uri("/slow").retrieve().toBodilessEntity());
                    try {
                        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                                .until(() -> manager.pool().stats().active() == 1);
                        // The only connection is busy for a second: the second request must give up
                        // after the 200 ms lease timeout, not wait HttpClient's 3 minutes (and so
                        // succeed once /slow has answered).
                        assertThatThrownBy(() -> client.get().uri("/hello").retrieve().body(String.class))
                                .isInstanceOf(ResourceAccessException.class)
                                .hasRootCauseInstanceOf(org.apache.hc.core5.http.ConnectionRequestTimeoutException.class);
                    } finally {
                        slow.get(10, java.util.concurrent.TimeUnit.SECONDS);
                    }
                });
    }

    @Test
    void theCloseableHttpClientBeanUsesThePool() {
        runner.run(context -> {
            CloseableHttpClient client = context.getBean(CloseableHttpClient.class);
            String body = client.execute(new org.apache.hc.client5.http.classic.methods.HttpGet(baseUrl + "/hello"),
                    response -> new String(response.getEntity().getContent().readAllBytes(), StandardCharsets.UTF_8));
            assertThat(body).isEqualTo("hello");
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().stats().idle()).isEqualTo(1);
        });
    }

    @Test
    void bootsReadTimeoutStillApplies() {
        runner.withPropertyValues("spring.http.clients.read-timeout=200ms").run(context -> {
            RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            assertThatThrownBy(() -> client.get().uri("/slow").retrieve().toBodilessEntity())
                    .isInstanceOf(ResourceAccessException.class)
                    .hasRootCauseInstanceOf(java.net.SocketTimeoutException.class);
            assertThat(client.get().uri("/hello").retrieve().body(String.class)).isEqualTo("hello");
        });
    }

    @Test
    void oneClientsReadTimeoutDoesNotStickToTheSharedConnection() {
        runner.withPropertyValues("spring.http.clients.read-timeout=500ms").run(context -> {
            CloseableHttpClient patient = context.getBean(CloseableHttpClient.class);
            patient.execute(new org.apache.hc.client5.http.classic.methods.HttpGet(baseUrl + "/hello"), response -> response.getCode());
            RestClient fast = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            assertThat(fast.get().uri("/hello").retrieve().body(String.class)).isEqualTo("hello");
            // The same pooled connection, now for the HttpClient bean, which has no read timeout.
            int status = patient.execute(new org.apache.hc.client5.http.classic.methods.HttpGet(baseUrl + "/slow"),
                    response -> response.getCode());
            assertThat(status).isEqualTo(200);
            assertThat(context.getBean(MeterRegistry.class).get("portkeeper.connections.opened").counter().count()).isEqualTo(1.0);
        });
    }

    @Test
    void anSslBundleGetsAPoolOfItsOwn() {
        runner.run(context -> {
            PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            SslBundle bundle = SslBundle.of(SslStoreBundle.NONE);
            HttpClientSettings withBundle = HttpClientSettings.ofSslBundle(bundle);
            builder.build(withBundle);
            PortkeeperConnectionManager primary = context.getBean(PortkeeperConnectionManager.class);
            PortkeeperConnectionManager tls = builder.connectionManager(withBundle);
            assertThat(tls).isNotSameAs(primary);
            assertThat(builder.connectionManager(withBundle)).isSameAs(tls);
            assertThat(builder.connectionManager(HttpClientSettings.defaults())).isSameAs(primary);
            assertThat(tls.pool().name()).isEqualTo("http-ssl");
            assertThat(context.getBean(PortkeeperPools.class).pools()).contains(tls.pool());
            context.close();
            assertThat(tls.pool().isClosed()).isTrue();
        });
    }

    @Test
    void aClientBuiltAfterAReloadFromTheBundleInstanceHeldBeforeItUsesThePoolNamedAfterTheBundle() {
        runner.run(context -> {
            SslBundleRegistry registry = context.getBean(SslBundleRegistry.class);
            PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            registry.registerBundle("partner", SslBundle.of(SslStoreBundle.NONE));
            HttpClientSettings heldBeforeReload = HttpClientSettings.ofSslBundle(context.getBean(SslBundles.class).getBundle("partner"));
            registry.updateBundle("partner", SslBundle.of(SslStoreBundle.NONE));

            builder.build(heldBeforeReload);

            assertThat(builder.connectionManager(heldBeforeReload).pool().name()).isEqualTo("http-partner");
            assertThat(context.getBean(PortkeeperPools.class).pools()).extracting(Pool::name)
                    .filteredOn(name -> name.startsWith("http-")).containsExactly("http-partner");
        });
    }

    @Test
    void aReloadedSslBundleKeepsItsOnePoolForClientsBuiltWithRestClientSsl() {
        runner.run(context -> {
            SslBundleRegistry registry = context.getBean(SslBundleRegistry.class);
            RestClientSsl ssl = context.getBean(RestClientSsl.class);
            registry.registerBundle("partner", SslBundle.of(SslStoreBundle.NONE));
            context.getBean(RestClient.Builder.class).apply(ssl.fromBundle("partner")).build();
            registry.updateBundle("partner", SslBundle.of(SslStoreBundle.NONE));
            context.getBean(RestClient.Builder.class).apply(ssl.fromBundle("partner")).build();
            registry.updateBundle("partner", SslBundle.of(SslStoreBundle.NONE));
            context.getBean(RestClient.Builder.class).apply(ssl.fromBundle("partner")).build();

            assertThat(context.getBean(PortkeeperPools.class).pools()).extracting(Pool::name)
                    .filteredOn(name -> name.startsWith("http-")).containsExactly("http-partner");
        });
    }

    @Test
    void propertiesBind() {
        runner.withPropertyValues(
                "portkeeper.pool.name=catalog", "portkeeper.pool.max-per-endpoint=3", "portkeeper.pool.max-total=9",
                "portkeeper.pool.lease-timeout=2s", "portkeeper.pool.max-lifetime=5m", "portkeeper.pool.lifetime-jitter=10s",
                "portkeeper.pool.max-idle-time=45s", "portkeeper.pool.leak-detection-threshold=20s",
                "portkeeper.pool.max-leases-per-connection=100", "portkeeper.pool.idle-timeout-margin=500ms",
                "portkeeper.pool.housekeeping-interval=20ms",
                "portkeeper.retirement.policy=request-peer-close", "portkeeper.retirement.drain-timeout=5s",
                "portkeeper.retirement.fallback=local",
                "portkeeper.port-budget.share=0.5", "portkeeper.port-budget.kernel=false").run(context -> {
                    PoolConfig config = context.getBean(PortkeeperConnectionManager.class).pool().config();
                    assertThat(config.name()).isEqualTo("catalog");
                    assertThat(config.maxPerEndpoint()).isEqualTo(3);
                    assertThat(config.maxTotal()).isEqualTo(9);
                    assertThat(config.leaseTimeout()).isEqualTo(Duration.ofSeconds(2));
                    assertThat(config.maxLifetime()).isEqualTo(Duration.ofMinutes(5));
                    assertThat(config.lifetimeJitter()).isEqualTo(Duration.ofSeconds(10));
                    assertThat(config.maxIdleTime()).isEqualTo(Duration.ofSeconds(45));
                    assertThat(config.leakDetectionThreshold()).isEqualTo(Duration.ofSeconds(20));
                    assertThat(config.maxLeasesPerConnection()).isEqualTo(100);
                    assertThat(config.idleTimeoutMargin()).isEqualTo(Duration.ofMillis(500));
                    assertThat(config.housekeepingInterval()).isEqualTo(Duration.ofMillis(20));
                    assertThat(config.retirement().policy()).isEqualTo(Retirement.Policy.REQUEST_PEER_CLOSE);
                    assertThat(config.retirement().drainTimeout()).isEqualTo(Duration.ofSeconds(5));
                    assertThat(config.retirement().fallback()).isEqualTo(Ending.LOCAL);
                    assertThat(config.portBudget().share()).isEqualTo(0.5);
                    assertThat(config.portBudget().usesKernel()).isFalse();
                });
    }

    @Test
    void theHealthWarnRatioDecidesFromWhichShareOfItsBudgetAnEndpointIsNamed() {
        // One connection uses far less than a ten-thousandth of an endpoint's budget (a share of the ephemeral range).
        runner.withPropertyValues("portkeeper.health.warn-ratio=0.00001").run(context -> {
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            Health health = context.getBean(PortkeeperHealthIndicator.class).health();
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat((java.util.List<?>) health.getDetails().get("warnings")).singleElement().asString()
                    .startsWith("http -> 127.0.0.1:" + server.getAddress().getPort() + " uses 1 of ");
        });
        runner.run(context -> {
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            assertThat(context.getBean(PortkeeperHealthIndicator.class).health().getDetails()).doesNotContainKey("warnings");
        });
        assertStartupFails("portkeeper.health.warn-ratio=0", "portkeeper.health.warn-ratio must be > 0 and <= 1, but was \"0\"");
        assertStartupFails("portkeeper.health.warn-ratio=1.5", "portkeeper.health.warn-ratio must be > 0 and <= 1, but was \"1.5\"");
    }

    @Test
    void theEndpointTagCanBeDroppedFromTheMeters() {
        runner.withPropertyValues("portkeeper.metrics.endpoint-tag=false").run(context -> {
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            assertThat(registry.get("portkeeper.connections.opened").tag("pool", "http").counter().count()).isEqualTo(1.0);
            assertThat(registry.find("portkeeper.connections.opened").tagKeys("endpoint").meters()).isEmpty();
        });
        runner.run(context -> {
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            assertThat(context.getBean(MeterRegistry.class).get("portkeeper.connections.opened")
                    .tag("endpoint", "127.0.0.1:" + server.getAddress().getPort()).counter().count()).isEqualTo(1.0);
        });
    }

    @Test
    void theSocketPoolsTimeoutsBind() {
        runner.withPropertyValues("portkeeper.socket-pool.enabled=true", "portkeeper.socket-pool.connect-timeout=3s",
                "portkeeper.socket-pool.read-timeout=250ms").run(context -> {
                    assertThat(context).hasNotFailed();
                    // SocketPool does not show its connect timeout; the bound value is what it was built with.
                    assertThat(context.getBean(PortkeeperProperties.class).getSocketPool().getConnectTimeout())
                            .isEqualTo(Duration.ofSeconds(3));
                    try (java.net.Socket socket = context.getBean(SocketPool.class).socket("127.0.0.1", server.getAddress().getPort())) {
                        assertThat(socket.getSoTimeout()).isEqualTo(250);
                    }
                });
        assertStartupFails(new String[] {"portkeeper.socket-pool.enabled=true", "portkeeper.socket-pool.connect-timeout=0s"},
                "portkeeper.socket-pool.connect-timeout must be positive, but was \"0s\"");
        assertStartupFails(new String[] {"portkeeper.socket-pool.enabled=true", "portkeeper.socket-pool.read-timeout=-1s"},
                "portkeeper.socket-pool.read-timeout must not be negative, but was \"-1s\"");
    }

    @Test
    void aBlankSocketPoolNameFailsStartupNamingTheProperty() {
        assertStartupFails(new String[] {"portkeeper.socket-pool.enabled=true", "portkeeper.socket-pool.name= "},
                "portkeeper.socket-pool.name must not be blank, but was \"\"");
    }

    @Test
    void theHttpSocketTimeoutAppliesToThePooledClient() {
        runner.withPropertyValues("portkeeper.http.socket-timeout=200ms").run(context -> {
            CloseableHttpClient client = context.getBean(CloseableHttpClient.class);
            assertThatThrownBy(() -> client.execute(new org.apache.hc.client5.http.classic.methods.HttpGet(baseUrl + "/slow"),
                    response -> response.getCode())).isInstanceOf(java.net.SocketTimeoutException.class);
        });
    }

    @Test
    void thePortBudgetCanBeTurnedOff() {
        runner.withPropertyValues("portkeeper.port-budget.enabled=false").run(context ->
                assertThat(context.getBean(PortkeeperConnectionManager.class).pool().config().portBudget().isEnabled()).isFalse());
    }

    @Test
    void badValuesFailStartupNamingThePropertyAndTheValueAsWritten() {
        assertStartupFails("portkeeper.pool.max-per-endpoint=0", "portkeeper.pool.max-per-endpoint must be at least 1, but was \"0\"");
        assertStartupFails("portkeeper.pool.max-total=2",
                "portkeeper.pool.max-total must be at least portkeeper.pool.max-per-endpoint (8), but was \"2\"");
        assertStartupFails("portkeeper.pool.lease-timeout=0s", "portkeeper.pool.lease-timeout must be positive, but was \"0s\"");
        assertStartupFails("portkeeper.pool.lifetime-jitter=1h",
                "portkeeper.pool.lifetime-jitter must be less than portkeeper.pool.max-lifetime (PT30M), but was \"1h\"");
        assertStartupFails("portkeeper.retirement.drain-timeout=-1s",
                "portkeeper.retirement.drain-timeout must be positive, but was \"-1s\"");
        assertStartupFails("portkeeper.retirement.fallback=peer",
                "portkeeper.retirement.fallback must be RESET or LOCAL, but was \"peer\"");
        assertStartupFails("portkeeper.port-budget.share=1.5", "portkeeper.port-budget.share must be > 0 and <= 1, but was \"1.5\"");
        assertStartupFails("portkeeper.retries.max-attempts=0", "portkeeper.retries.max-attempts must be at least 1, but was \"0\"");
        assertStartupFails("portkeeper.http.connect-timeout=0s", "portkeeper.http.connect-timeout must be positive, but was \"0s\"");
        assertStartupFails(new String[] {"portkeeper.socket-pool.enabled=true", "portkeeper.socket-pool.name=http"},
                "portkeeper.socket-pool.name must differ from portkeeper.pool.name");
        assertStartupFails("portkeeper.pool.max-per-endpoint=many", "portkeeper.pool.max-per-endpoint");
    }

    @Test
    void theDefaultFallbackWrittenOutNextToAPolicyWithoutDrainingStarts() {
        runner.withPropertyValues("portkeeper.retirement.policy=reset", "portkeeper.retirement.fallback=reset").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().config().retirement().policy())
                    .isEqualTo(Retirement.Policy.RESET);
        });
        runner.withPropertyValues("portkeeper.retirement.policy=local", "portkeeper.retirement.fallback=reset")
                .run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void aFallbackOtherThanTheDefaultNextToAPolicyWithoutDrainingFailsNamingBoth() {
        assertStartupFails(new String[] {"portkeeper.retirement.policy=reset", "portkeeper.retirement.fallback=local"},
                "portkeeper.retirement.fallback applies only when portkeeper.retirement.policy is await-peer or "
                        + "request-peer-close (the fallback closes connections that drained in vain), but policy was reset");
    }

    @Test
    void aDrainTimeoutOtherThanTheDefaultNextToAPolicyWithoutDrainingFailsNamingBoth() {
        assertStartupFails(new String[] {"portkeeper.retirement.policy=reset", "portkeeper.retirement.drain-timeout=5s"},
                "portkeeper.retirement.drain-timeout must be left at its default (PT30S) unless portkeeper.retirement.policy is "
                        + "await-peer or request-peer-close (with policy reset nothing drains), but was \"5s\"");
        assertStartupFails(new String[] {"portkeeper.retirement.policy=local", "portkeeper.retirement.drain-timeout=-1s"},
                "portkeeper.retirement.drain-timeout must be left at its default (PT30S) unless portkeeper.retirement.policy is "
                        + "await-peer or request-peer-close (with policy local nothing drains), but was \"-1s\"");
    }

    @Test
    void theDefaultDrainTimeoutWrittenOutNextToAPolicyWithoutDrainingStarts() {
        runner.withPropertyValues("portkeeper.retirement.policy=reset", "portkeeper.retirement.drain-timeout=30s")
                .run(context -> assertThat(context).hasNotFailed());
        runner.withPropertyValues("portkeeper.retirement.policy=local", "portkeeper.retirement.drain-timeout=30000ms")
                .run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void maxAttemptsOtherThanTheDefaultWithRetriesOffFailsNamingBoth() {
        assertStartupFails(new String[] {"portkeeper.retries.enabled=false", "portkeeper.retries.max-attempts=3"},
                "portkeeper.retries.max-attempts must be left at its default (2) when portkeeper.retries.enabled is false "
                        + "(no retry is made), but was \"3\"");
        assertStartupFails(new String[] {"portkeeper.retries.enabled=false", "portkeeper.retries.max-attempts=0"},
                "portkeeper.retries.max-attempts must be left at its default (2) when portkeeper.retries.enabled is false "
                        + "(no retry is made), but was \"0\"");
        runner.withPropertyValues("portkeeper.retries.enabled=false", "portkeeper.retries.max-attempts=2")
                .run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void portBudgetSettingsOtherThanTheDefaultsWithTheBudgetOffFailNamingBoth() {
        assertStartupFails(new String[] {"portkeeper.port-budget.enabled=false", "portkeeper.port-budget.share=0.5"},
                "portkeeper.port-budget.share must be left at its default (0.8) when portkeeper.port-budget.enabled is false "
                        + "(no budget is kept), but was \"0.5\"");
        assertStartupFails(new String[] {"portkeeper.port-budget.enabled=false", "portkeeper.port-budget.kernel=false"},
                "portkeeper.port-budget.kernel must be left at its default (true) when portkeeper.port-budget.enabled is false "
                        + "(no budget is kept), but was \"false\"");
        runner.withPropertyValues("portkeeper.port-budget.enabled=false", "portkeeper.port-budget.share=0.8",
                "portkeeper.port-budget.kernel=true").run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void socketPoolSettingsOtherThanTheDefaultsWithTheSocketPoolOffFailNamingBoth() {
        assertStartupFails("portkeeper.socket-pool.name=orders",
                "portkeeper.socket-pool.name must be left at its default (socket) when portkeeper.socket-pool.enabled is false "
                        + "(no socket pool is created), but was \"orders\"");
        assertStartupFails("portkeeper.socket-pool.connect-timeout=2s",
                "portkeeper.socket-pool.connect-timeout must be left at its default (PT10S) when portkeeper.socket-pool.enabled "
                        + "is false (no socket pool is created), but was \"2s\"");
        assertStartupFails("portkeeper.socket-pool.read-timeout=5s",
                "portkeeper.socket-pool.read-timeout must be left at its default (PT0S) when portkeeper.socket-pool.enabled "
                        + "is false (no socket pool is created), but was \"5s\"");
        runner.withPropertyValues("portkeeper.socket-pool.enabled=false", "portkeeper.socket-pool.name=socket",
                "portkeeper.socket-pool.connect-timeout=10s", "portkeeper.socket-pool.read-timeout=0")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(SocketPool.class));
    }

    @Test
    void httpSettingsOtherThanTheDefaultsWithHttpOffFailNamingBoth() {
        String off = "portkeeper.http.enabled=false";
        String reason = " when portkeeper.http.enabled is false (no HTTP client is created), but was ";
        assertStartupFails(new String[] {off, "portkeeper.http.connect-timeout=2s"},
                "portkeeper.http.connect-timeout must be left at its default (PT10S)" + reason + "\"2s\"");
        assertStartupFails(new String[] {off, "portkeeper.http.socket-timeout=30s"},
                "portkeeper.http.socket-timeout must be left at its default (PT3M)" + reason + "\"30s\"");
        assertStartupFails(new String[] {off, "portkeeper.http.boot-clients=false"},
                "portkeeper.http.boot-clients must be left at its default (true)" + reason + "\"false\"");
        assertStartupFails(new String[] {off, "portkeeper.retries.enabled=false"},
                "portkeeper.retries.enabled must be left at its default (true)" + reason + "\"false\"");
        assertStartupFails(new String[] {off, "portkeeper.retries.max-attempts=3"},
                "portkeeper.retries.max-attempts must be left at its default (2)" + reason + "\"3\"");
        assertStartupFails(new String[] {off, "portkeeper.pool.name=catalog"},
                "portkeeper.pool.name must be left at its default (http)" + reason + "\"catalog\"");
        runner.withPropertyValues(off, "portkeeper.http.connect-timeout=10s", "portkeeper.http.socket-timeout=3m",
                "portkeeper.http.boot-clients=true", "portkeeper.retries.enabled=true", "portkeeper.retries.max-attempts=2",
                "portkeeper.pool.name=http").run(context -> {
                    assertThat(context).hasNotFailed().doesNotHaveBean(PortkeeperConnectionManager.class);
                    assertThat(context).hasSingleBean(PortkeeperPools.class);
                });
    }

    @Test
    void metricsSettingsOtherThanTheDefaultsWithMetricsOffFailNamingBoth() {
        assertStartupFails(new String[] {"portkeeper.metrics.enabled=false", "portkeeper.metrics.endpoint-tag=false"},
                "portkeeper.metrics.endpoint-tag must be left at its default (true) when portkeeper.metrics.enabled is false "
                        + "(no meters are bound), but was \"false\"");
        runner.withPropertyValues("portkeeper.metrics.enabled=false", "portkeeper.metrics.endpoint-tag=true")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(PortkeeperMetrics.class));
    }

    @Test
    void theSocketPoolsDefaultNameIsFreeForTheHttpPoolWhileTheSocketPoolIsOff() {
        runner.withPropertyValues("portkeeper.pool.name=socket").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().name()).isEqualTo("socket");
        });
        assertStartupFails(new String[] {"portkeeper.socket-pool.enabled=true", "portkeeper.pool.name=socket"},
                "portkeeper.socket-pool.name must differ from portkeeper.pool.name (their meters would mix), but both were 'socket'");
    }

    @Test
    void withPortkeeperOffNoPropertyIsBoundOrChecked() {
        runner.withPropertyValues("portkeeper.enabled=false", "portkeeper.pool.max-per-endpoint=0",
                "portkeeper.socket-pool.connect-timeout=2s", "portkeeper.http.enabled=false", "portkeeper.http.socket-timeout=30s",
                "portkeeper.health.warn-ratio=1.5").run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).doesNotHaveBean(PortkeeperProperties.class);
                });
    }

    private void assertStartupFails(String property, String message) {
        assertStartupFails(new String[] {property}, message);
    }

    private void assertStartupFails(String[] properties, String message) {
        runner.withPropertyValues(properties).run(context -> {
            assertThat(context).hasFailed();
            assertThat(allMessages(context.getStartupFailure())).contains(message);
        });
    }

    private static String allMessages(Throwable t) {
        StringBuilder out = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            out.append(c.getMessage()).append('\n');
        }
        return out.toString();
    }

    @Test
    void thePoolClosesWithTheContext() {
        runner.run(context -> {
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            context.close();
            assertThat(manager.pool().isClosed()).isTrue();
        });
    }

    @Test
    void theSocketPoolIsOptIn() {
        runner.withPropertyValues("portkeeper.socket-pool.enabled=true", "portkeeper.pool.max-per-endpoint=2").run(context -> {
            SocketPool socketPool = context.getBean(SocketPool.class);
            assertThat(socketPool.pool().name()).isEqualTo("socket");
            assertThat(socketPool.pool().config().maxPerEndpoint()).isEqualTo(2);
            assertThat(context.getBean(PortkeeperPools.class).pools()).contains(socketPool.pool());
            context.close();
            assertThat(socketPool.pool().isClosed()).isTrue();
        });
    }

    @Test
    void everythingIsOffWhenDisabled() {
        runner.withPropertyValues("portkeeper.enabled=false").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).doesNotHaveBean(PortkeeperPools.class);
            assertThat(context).doesNotHaveBean(PortkeeperConnectionManager.class);
            assertThat(context).doesNotHaveBean(PortkeeperHealthIndicator.class);
            assertThat(context).doesNotHaveBean(PortkeeperMetrics.class);
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isNotInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
        });
    }

    @Test
    void excludingTheCoreAutoConfigurationTurnsEverythingOff() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(PortkeeperHttpAutoConfiguration.class,
                        PortkeeperMetricsAutoConfiguration.class, PortkeeperHealthAutoConfiguration.class,
                        HttpClientAutoConfiguration.class, ImperativeHttpClientAutoConfiguration.class,
                        MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class,
                        CompositeMeterRegistryAutoConfiguration.class, HealthContributorAutoConfiguration.class))
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).doesNotHaveBean(PortkeeperConnectionManager.class);
                    assertThat(context).doesNotHaveBean(PortkeeperMetrics.class);
                    assertThat(context).doesNotHaveBean(PortkeeperHealthIndicator.class);
                });
    }

    @Test
    void bootClientsCanBeLeftAlone() {
        runner.withPropertyValues("portkeeper.http.boot-clients=false").run(context -> {
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isNotInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
        });
        runner.withPropertyValues("spring.http.clients.imperative.factory=jdk").run(context -> {
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isNotInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"http-components", "HTTP_COMPONENTS", "httpcomponents", "httpComponents", "HttpComponents", "http.components"})
    void everySpellingBootReadsAsHttpComponentsKeepsBootsClientsOnThePool(String spelling) {
        runner.withPropertyValues("spring.http.clients.imperative.factory=" + spelling).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().stats().idle()).isEqualTo(1);
        });
    }

    // --- backing off for the application's own beans ---

    @Test
    void backsOffForAUserConnectionManagerAndBootClientsUseIt() {
        runner.withUserConfiguration(UserManager.class).run(context -> {
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            assertThat(manager.pool().name()).isEqualTo("mine");
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            assertThat(manager.pool().stats().idle()).isEqualTo(1);
            assertThat(context.getBean(PortkeeperPools.class).pools()).contains(manager.pool());
        });
    }

    @Test
    void twoUserConnectionManagersWithoutAPrimaryOneBackOffInsteadOfFailingStartup() {
        runner.withUserConfiguration(TwoUserManagers.class).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).getBeans(PortkeeperConnectionManager.class).containsOnlyKeys("mine", "theirs");
            assertThat(context).doesNotHaveBean("portkeeperHttpClient");
            assertThat(context).doesNotHaveBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            assertThat(context).hasSingleBean(ClientHttpRequestFactoryBuilder.class);
        });
    }

    @Test
    void ofTwoUserConnectionManagersThePrimaryOneIsThePoolBehindBootsClients() {
        runner.withUserConfiguration(TwoUserManagers.class, PrimaryUserManager.class).run(context -> {
            assertThat(context).hasNotFailed();
            PortkeeperConnectionManager primary = context.getBean("primary", PortkeeperConnectionManager.class);
            assertThat(context).hasBean("portkeeperHttpClient");
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            assertThat(primary.pool().stats().idle()).isEqualTo(1);
            assertThat(context.getBean("mine", PortkeeperConnectionManager.class).pool().stats().idle()).isZero();
        });
    }

    @Test
    void backsOffForAUserHttpClient() {
        runner.withUserConfiguration(UserHttpClient.class).run(context -> {
            assertThat(context).hasSingleBean(CloseableHttpClient.class);
            assertThat(context).hasBean("myClient");
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
        });
    }

    @Test
    void backsOffForAUserRequestFactoryBuilder() {
        runner.withUserConfiguration(UserRequestFactoryBuilder.class).run(context -> {
            assertThat(context).hasSingleBean(ClientHttpRequestFactoryBuilder.class);
            assertThat(context).doesNotHaveBean(PortkeeperClientHttpRequestFactoryBuilder.class);
        });
    }

    @Test
    void backsOffForUserMetrics() {
        runner.withUserConfiguration(UserPoolMetrics.class).run(context -> {
            assertThat(context).doesNotHaveBean(PortkeeperMetrics.class);
            assertThat(context).hasSingleBean(PoolMetrics.class);
        });
        runner.withPropertyValues("portkeeper.metrics.enabled=false").run(context ->
                assertThat(context).doesNotHaveBean(PortkeeperMetrics.class));
    }

    @Test
    void backsOffForAUserHealthIndicator() {
        runner.withUserConfiguration(UserHealthIndicator.class).run(context -> {
            assertThat(context).doesNotHaveBean(PortkeeperHealthIndicator.class);
            assertThat(context.getBean("portkeeperHealthIndicator")).isInstanceOf(HealthIndicator.class);
        });
        runner.withPropertyValues("management.health.portkeeper.enabled=false").run(context ->
                assertThat(context).doesNotHaveBean(PortkeeperHealthIndicator.class));
    }

    @Test
    void backsOffForAUserSocketPool() {
        runner.withUserConfiguration(UserSocketPool.class).withPropertyValues("portkeeper.socket-pool.enabled=true").run(context -> {
            assertThat(context).hasSingleBean(SocketPool.class);
            assertThat(context.getBean(SocketPool.class).pool().name()).isEqualTo("my-sockets");
        });
    }

    // --- libraries missing ---

    @Test
    void withoutHttpClient5TheRestStillWorks() {
        runner.withClassLoader(new FilteredClassLoader("org.apache.hc.client5", "io.github.portkeeper.http"))
                .withPropertyValues("portkeeper.socket-pool.enabled=true").run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).doesNotHaveBean(PortkeeperConnectionManager.class);
                    assertThat(context).doesNotHaveBean(PortkeeperClientHttpRequestFactoryBuilder.class);
                    assertThat(context).hasSingleBean(SocketPool.class);
                    assertThat(context).hasSingleBean(PortkeeperMetrics.class);
                    assertThat(context).hasSingleBean(PortkeeperHealthIndicator.class);
                    assertThat(context.getBean(PortkeeperHealthIndicator.class).health().getStatus()).isEqualTo(Status.UP);
                    String body = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello")
                            .retrieve().body(String.class);
                    assertThat(body).isEqualTo("hello");
                });
    }

    @Test
    void withoutActuatorHealthTheRestStillWorks() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class,
                        PortkeeperMetricsAutoConfiguration.class, PortkeeperHealthAutoConfiguration.class,
                        HttpClientAutoConfiguration.class, ImperativeHttpClientAutoConfiguration.class, RestClientAutoConfiguration.class,
                        MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class,
                        CompositeMeterRegistryAutoConfiguration.class))
                .withClassLoader(new FilteredClassLoader("org.springframework.boot.health")).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).doesNotHaveBean(PortkeeperHealthIndicator.class);
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
            assertThat(context).hasSingleBean(PortkeeperMetrics.class);
        });
    }

    @Test
    void withoutMicrometerTheRestStillWorks() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class,
                        PortkeeperMetricsAutoConfiguration.class, PortkeeperHealthAutoConfiguration.class,
                        HttpClientAutoConfiguration.class, ImperativeHttpClientAutoConfiguration.class,
                        RestClientAutoConfiguration.class, HealthContributorAutoConfiguration.class))
                .withClassLoader(new FilteredClassLoader("io.micrometer"))
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).doesNotHaveBean(PortkeeperMetrics.class);
                    assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
                    assertThat(context).hasSingleBean(PortkeeperHealthIndicator.class);
                    String body = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello")
                            .retrieve().body(String.class);
                    assertThat(body).isEqualTo("hello");
                });
    }

    @Configuration(proxyBeanMethods = false)
    static class UserManager {
        @Bean
        PortkeeperConnectionManager myManager() {
            return PortkeeperConnectionManager.builder().poolConfig(PoolConfig.builder().name("mine").build()).build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class TwoUserManagers {
        @Bean
        PortkeeperConnectionManager mine() {
            return PortkeeperConnectionManager.builder().poolConfig(PoolConfig.builder().name("mine").build()).build();
        }

        @Bean
        PortkeeperConnectionManager theirs() {
            return PortkeeperConnectionManager.builder().poolConfig(PoolConfig.builder().name("theirs").build()).build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class PrimaryUserManager {
        @Bean
        @Primary
        PortkeeperConnectionManager primary() {
            return PortkeeperConnectionManager.builder().poolConfig(PoolConfig.builder().name("primary").build()).build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserBuilderCustomizer {
        @Bean
        ClientHttpRequestFactoryBuilderCustomizer<HttpComponentsClientHttpRequestFactoryBuilder> headerCustomizer() {
            return builder -> builder.withHttpClientCustomizer(
                    b -> b.addRequestInterceptorFirst((request, entity, ctx) -> request.addHeader("X-Customized", "yes")));
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserRequestConfigCustomizer {
        @Bean
        ClientHttpRequestFactoryBuilderCustomizer<HttpComponentsClientHttpRequestFactoryBuilder> requestConfigCustomizer() {
            return builder -> builder.withHttpClientCustomizer(b -> b.setDefaultRequestConfig(
                    org.apache.hc.client5.http.config.RequestConfig.custom()
                            .setResponseTimeout(org.apache.hc.core5.util.Timeout.ofSeconds(30)).build()));
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserHttpClient {
        @Bean
        CloseableHttpClient myClient() {
            return HttpClients.createDefault();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserRequestFactoryBuilder {
        @Bean
        ClientHttpRequestFactoryBuilder<?> myBuilder() {
            return ClientHttpRequestFactoryBuilder.jdk();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserPoolMetrics {
        @Bean
        PoolMetrics myPoolMetrics(PortkeeperConnectionManager manager) {
            return PoolMetrics.builder(manager.pool()).endpointTag(false).build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserHealthIndicator {
        @Bean
        HealthIndicator portkeeperHealthIndicator() {
            return () -> Health.up().build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserSocketPool {
        @Bean
        SocketPool mySocketPool() {
            return SocketPool.builder().poolConfig(PoolConfig.builder().name("my-sockets").build()).build();
        }
    }
}
