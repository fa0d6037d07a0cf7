package io.github.portkeeper.spring.boot3;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.PortkeeperMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.actuate.autoconfigure.health.HealthContributorAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.web.client.RestClientSsl;
import org.springframework.boot.autoconfigure.http.HttpMessageConvertersAutoConfiguration;
import org.springframework.boot.autoconfigure.http.client.HttpClientAutoConfiguration;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.autoconfigure.web.client.RestClientAutoConfiguration;
import org.springframework.boot.autoconfigure.web.client.RestTemplateAutoConfiguration;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.ClientHttpRequestFactorySettings;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundleRegistry;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslStoreBundle;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.web.client.RestTemplateBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.client.ResourceAccessException;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.client.RestClient;
import org.springframework.web.client.support.RestClientAdapter;
import org.springframework.web.service.annotation.GetExchange;
import org.springframework.web.service.annotation.HttpExchange;
import org.springframework.web.service.invoker.HttpServiceProxyFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The Boot 3.5 starter's auto-configuration against Boot 3.5's own HTTP client, metrics and health support. */
class PortkeeperBoot3AutoConfigurationTest {

    private static HttpServer server;
    private static ExecutorService executor;
    private static String baseUrl;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class,
                    PortkeeperMetricsAutoConfiguration.class, PortkeeperHealthAutoConfiguration.class,
                    SslAutoConfiguration.class, HttpClientAutoConfiguration.class, HttpMessageConvertersAutoConfiguration.class,
                    RestClientAutoConfiguration.class, RestTemplateAutoConfiguration.class,
                    MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                    HealthContributorAutoConfiguration.class));

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
        server.createContext("/slow", exchange -> {
            try {
                Thread.sleep(1_000); // the server's answer is late; the client's read timeout is the subject
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
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
    void everyBeanIsPresentAndBootsRestClientAndRestTemplateGoThroughThePool() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).hasSingleBean(PortkeeperProperties.class);
            assertThat(context).hasSingleBean(CloseableHttpClient.class);
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
            assertThat(context).hasSingleBean(PortkeeperMetrics.class);
            assertThat(context).hasSingleBean(PortkeeperHealthIndicator.class);
            assertThat(context).doesNotHaveBean(SocketPool.class);

            RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            for (int i = 0; i < 20; i++) {
                assertThat(client.get().uri("/hello").retrieve().body(String.class)).isEqualTo("hello");
            }
            assertThat(context.getBean(RestTemplateBuilder.class).build().getForObject(baseUrl + "/hello", String.class))
                    .isEqualTo("hello");
            PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
            assertThat(manager.pool().stats().idle()).isEqualTo(1);
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            assertThat(registry.get("portkeeper.connections.opened").tag("pool", "http").counter().count()).isEqualTo(1.0);
            Health health = context.getBean(PortkeeperHealthIndicator.class).health();
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat(health.getDetails()).containsKey("pools");
        });
    }

    @Test
    void anHttpExchangeClientOnBootsRestClientGoesThroughThePool() {
        runner.run(context -> {
            RestClient restClient = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            Hello hello = HttpServiceProxyFactory.builderFor(RestClientAdapter.create(restClient)).build().createClient(Hello.class);
            for (int i = 0; i < 10; i++) {
                assertThat(hello.get("hello")).isEqualTo("hello");
            }
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().stats().idle()).isEqualTo(1);
            assertThat(context.getBean(MeterRegistry.class).get("portkeeper.connections.opened").counter().count()).isEqualTo(1.0);
        });
    }

    /** A declarative client. */
    @HttpExchange
    interface Hello {

        @GetExchange("/{path}")
        String get(@PathVariable("path") String path);
    }

    @Test
    void bootsReadTimeoutStillApplies() {
        runner.withPropertyValues("spring.http.client.read-timeout=200ms").run(context -> {
            RestClient client = context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build();
            assertThatThrownBy(() -> client.get().uri("/slow").retrieve().toBodilessEntity())
                    .isInstanceOf(ResourceAccessException.class)
                    .hasRootCauseInstanceOf(java.net.SocketTimeoutException.class);
            assertThat(client.get().uri("/hello").retrieve().body(String.class)).isEqualTo("hello");
        });
    }

    @Test
    void anSslBundleGetsAPoolOfItsOwn() {
        runner.run(context -> {
            PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            ClientHttpRequestFactorySettings withBundle = ClientHttpRequestFactorySettings.ofSslBundle(SslBundle.of(SslStoreBundle.NONE));
            builder.build(withBundle);
            PortkeeperConnectionManager tls = builder.connectionManager(withBundle);
            assertThat(tls).isNotSameAs(context.getBean(PortkeeperConnectionManager.class));
            assertThat(tls.pool().name()).isEqualTo("http-ssl");
            assertThat(context.getBean(PortkeeperPools.class).pools()).contains(tls.pool());
        });
    }

    @Test
    void aClientBuiltAfterAReloadFromTheBundleInstanceHeldBeforeItUsesThePoolNamedAfterTheBundle() {
        runner.run(context -> {
            SslBundleRegistry registry = context.getBean(SslBundleRegistry.class);
            PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            registry.registerBundle("partner", SslBundle.of(SslStoreBundle.NONE));
            ClientHttpRequestFactorySettings heldBeforeReload = ClientHttpRequestFactorySettings.ofSslBundle(context.getBean(SslBundles.class).getBundle("partner"));
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
    void propertiesBindAndBadValuesNameThePropertyAsWritten() {
        runner.withPropertyValues("portkeeper.pool.max-per-endpoint=3", "portkeeper.retirement.policy=reset",
                "portkeeper.retirement.fallback=reset").run(context -> {
                    assertThat(context).hasNotFailed();
                    PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
                    assertThat(manager.pool().config().maxPerEndpoint()).isEqualTo(3);
                    assertThat(manager.pool().config().retirement().policy()).isEqualTo(Retirement.Policy.RESET);
                });
        runner.withPropertyValues("portkeeper.retirement.drain-timeout=-1s").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause()
                    .hasMessageContaining("portkeeper.retirement.drain-timeout must be positive, but was \"-1s\"");
        });
    }

    @Test
    void aClientOtherThanHttpComponentsLeavesBootsClientsAlone() {
        runner.withPropertyValues("spring.http.client.factory=jdk").run(context -> {
            assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isNotInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"http-components", "HTTP_COMPONENTS", "httpcomponents", "httpComponents", "HttpComponents", "http.components"})
    void everySpellingBootReadsAsHttpComponentsKeepsBootsClientsOnThePool(String spelling) {
        runner.withPropertyValues("spring.http.client.factory=" + spelling).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class).isInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
            context.getBean(RestClient.Builder.class).baseUrl(baseUrl).build().get().uri("/hello").retrieve().toBodilessEntity();
            assertThat(context.getBean(PortkeeperConnectionManager.class).pool().stats().idle()).isEqualTo(1);
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

    @Test
    void everythingIsOffWhenDisabled() {
        runner.withPropertyValues("portkeeper.enabled=false").run(context -> {
            assertThat(context).doesNotHaveBean(PortkeeperPools.class);
            assertThat(context).doesNotHaveBean(PortkeeperConnectionManager.class);
        });
    }
}
