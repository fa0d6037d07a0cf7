package io.github.portkeeper.boot41;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.PortkeeperAutoConfiguration;
import io.github.portkeeper.spring.boot.PortkeeperClientHttpRequestFactoryBuilder;
import io.github.portkeeper.spring.boot.PortkeeperHttpAutoConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.http.client.HttpClientSettings;
import org.springframework.boot.http.client.InetAddressFilter;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.http.HttpMethod;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpResponse;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Boot 4.1's {@code InetAddressFilter} through the starter, which is compiled against Boot 4.0
 * (where the filter does not exist) and reads it reflectively.
 */
class Boot41AddressFilterTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class));

    private HttpServer server;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void aFilteredClientGetsAPoolOfItsOwnAndTheFilterDecidesWhichAddressesItMayReach() {
        runner.run(context -> {
            PortkeeperClientHttpRequestFactoryBuilder builder = context.getBean(PortkeeperClientHttpRequestFactoryBuilder.class);
            URI uri = URI.create("http://localhost:" + server.getAddress().getPort() + "/");

            InetAddressFilter noLoopback = address -> !address.isLoopbackAddress();
            HttpClientSettings blocked = HttpClientSettings.defaults().withInetAddressFilter(noLoopback);
            PortkeeperConnectionManager filtered = builder.connectionManager(blocked);
            assertThat(filtered).isNotSameAs(context.getBean(PortkeeperConnectionManager.class));
            assertThat(filtered.pool().name()).isEqualTo("http-filtered");
            ClientHttpRequestFactory blockedFactory = builder.build(blocked);
            assertThatThrownBy(() -> blockedFactory.createRequest(uri, HttpMethod.GET).execute())
                    .isInstanceOf(UnknownHostException.class)
                    .hasMessageContaining("rejected by the address filter");

            InetAddressFilter loopbackOnly = InetAddress::isLoopbackAddress;
            ClientHttpRequestFactory allowed = builder.build(HttpClientSettings.defaults().withInetAddressFilter(loopbackOnly));
            try (ClientHttpResponse response = allowed.createRequest(uri, HttpMethod.GET).execute()) {
                assertThat(response.getStatusCode().value()).isEqualTo(204);
            }
        });
    }
}
