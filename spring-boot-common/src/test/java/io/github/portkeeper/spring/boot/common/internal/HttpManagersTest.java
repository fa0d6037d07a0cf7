package io.github.portkeeper.spring.boot.common.internal;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.ssl.DefaultSslBundleRegistry;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslStoreBundle;
import org.springframework.boot.ssl.pem.PemSslStoreBundle;
import org.springframework.boot.ssl.pem.PemSslStoreDetails;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The pools of Boot-built clients with SSL bundles. The certificates under {@code tls/} are
 * self-signed, EC P-256, for 127.0.0.1 and localhost, valid for 100 years:
 * {@code openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
 * -subj /CN=portkeeper-test-old -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout old.key -out old.crt}
 * (and the same for {@code new}).
 */
class HttpManagersTest {

    private final PortkeeperProperties properties = new PortkeeperProperties();
    private final PortkeeperPools pools = new PortkeeperPools();
    private final PortkeeperConnectionManager primary = PortkeeperBeans.connectionManager(properties, pools);
    private final DefaultSslBundleRegistry registry = new DefaultSslBundleRegistry();
    private final BootClientPools bootPools = BootClientPools.of(primary, properties, pools, registry);
    private HttpsServer server;

    @AfterEach
    void close() {
        if (server != null) {
            server.stop(0);
        }
        bootPools.close();
        primary.close();
    }

    @Test
    void reloadingANamedBundleKeepsItsOnePoolAndItsName() {
        registry.registerBundle("partner", trusting("old"));
        PortkeeperConnectionManager before = bootPools.managerFor(registry.getBundle("partner"), null, null);

        registry.updateBundle("partner", trusting("new"));
        PortkeeperConnectionManager afterFirstReload = bootPools.managerFor(registry.getBundle("partner"), null, null);
        registry.updateBundle("partner", trusting("old"));
        PortkeeperConnectionManager afterSecondReload = bootPools.managerFor(registry.getBundle("partner"), null, null);

        assertThat(pools.pools()).extracting(Pool::name).containsExactly("http", "http-partner");
        assertThat(afterFirstReload).isSameAs(before);
        assertThat(afterSecondReload).isSameAs(before);
        assertThat(before.pool().name()).isEqualTo("http-partner");
    }

    @Test
    void aClientBuiltAfterAReloadFromTheInstanceHeldBeforeItGetsThePoolNamedAfterTheBundle() {
        registry.registerBundle("partner", trusting("old"));
        SslBundle heldBeforeReload = registry.getBundle("partner");
        registry.updateBundle("partner", trusting("new"));

        PortkeeperConnectionManager manager = bootPools.managerFor(heldBeforeReload, null, null);

        assertThat(manager.pool().name()).isEqualTo("http-partner");
        assertThat(bootPools.managerFor(registry.getBundle("partner"), null, null)).isSameAs(manager);
        assertThat(pools.pools()).extracting(Pool::name).containsExactly("http", "http-partner");
    }

    @Test
    void aBundleRegisteredBeforeThePoolsWereMadeIsKnownByItsNameInEveryInstanceItHad() {
        DefaultSslBundleRegistry earlier = new DefaultSslBundleRegistry("partner", trusting("old"));
        SslBundle first = earlier.getBundle("partner");
        try (BootClientPools made = BootClientPools.of(primary, properties, pools, earlier)) {
            earlier.updateBundle("partner", trusting("new"));
            SslBundle second = earlier.getBundle("partner");
            earlier.updateBundle("partner", trusting("old"));

            PortkeeperConnectionManager fromFirst = made.managerFor(first, null, null);

            assertThat(fromFirst.pool().name()).isEqualTo("http-partner");
            assertThat(made.managerFor(second, null, null)).isSameAs(fromFirst);
            assertThat(made.managerFor(earlier.getBundle("partner"), null, null)).isSameAs(fromFirst);
            assertThat(pools.pools()).extracting(Pool::name).containsExactly("http", "http-partner");
        }
    }

    @Test
    void eachUnregisteredBundleInstanceGetsAPoolOfItsOwn() {
        SslBundle adHoc = SslBundle.of(SslStoreBundle.NONE);
        SslBundle another = SslBundle.of(SslStoreBundle.NONE);

        PortkeeperConnectionManager first = bootPools.managerFor(adHoc, null, null);
        PortkeeperConnectionManager second = bootPools.managerFor(another, null, null);

        assertThat(bootPools.managerFor(adHoc, null, null)).isSameAs(first);
        assertThat(second).isNotSameAs(first);
        assertThat(pools.pools()).extracting(Pool::name).containsExactly("http", "http-ssl", "http-ssl-2");
    }

    @Test
    void aConnectionOpenedAfterABundleReloadUsesTheReloadedCertificates() throws Exception {
        startServerPresenting("new");
        registry.registerBundle("partner", trusting("old"));
        try (CloseableHttpClient builtBeforeReload = client(registry.getBundle("partner"))) {
            assertThatThrownBy(() -> get(builtBeforeReload)).isInstanceOf(SSLException.class);

            registry.updateBundle("partner", trusting("new"));

            // A new connection takes the registry's current bundle, also for a client built before the reload.
            assertThat(get(builtBeforeReload)).isEqualTo("ok");
            try (CloseableHttpClient builtAfterReload = client(registry.getBundle("partner"))) {
                assertThat(get(builtAfterReload)).isEqualTo("ok");
            }
        }
        assertThat(pools.pools()).extracting(Pool::name).containsExactly("http", "http-partner");
    }

    @Test
    void aClientWithAnSslBundleBuiltAfterTheContextClosedIsRefusedNamingTheBundleAndMakesNoPool() {
        registry.registerBundle("partner", trusting("old"));
        SslBundle partner = registry.getBundle("partner");

        bootPools.close();

        assertThatThrownBy(() -> bootPools.managerFor(partner, null, null))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("SSL bundle 'partner'")
                .hasMessageContaining("context is closed");
        assertThat(pools.pools()).extracting(Pool::name).containsExactly("http");
    }

    @Test
    void aClientWithAnAddressFilterBuiltAfterTheContextClosedIsRefusedNamingTheFilterAndMakesNoPool() {
        Predicate<InetAddress> loopbackOnly = new Predicate<>() {
            @Override
            public boolean test(InetAddress address) {
                return address.isLoopbackAddress();
            }

            @Override
            public String toString() {
                return "loopback-only";
            }
        };

        bootPools.close();

        assertThatThrownBy(() -> bootPools.managerFor(null, loopbackOnly, loopbackOnly))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("address filter loopback-only")
                .hasMessageContaining("context is closed");
        assertThat(pools.pools()).extracting(Pool::name).containsExactly("http");
    }

    @Test
    void aPoolBeingMadeWhileTheContextClosesIsClosedWithIt() throws Exception {
        CountDownLatch making = new CountDownLatch(1);
        CountDownLatch mayFinish = new CountDownLatch(1);
        try (HttpManagers managers = new HttpManagers(primary, name -> {
            making.countDown();
            awaitOrFail(mayFinish);
            return PortkeeperConnectionManager.builder().poolConfig(primary.pool().config().toBuilder().name(name).build());
        }, pools, registry)) {
            CompletableFuture<PortkeeperConnectionManager> made =
                    CompletableFuture.supplyAsync(() -> managers.managerFor(SslBundle.of(SslStoreBundle.NONE), null, null));
            awaitOrFail(making);
            AtomicReference<Throwable> closeFailure = new AtomicReference<>();
            Thread closer = new Thread(() -> {
                try {
                    managers.close();
                } catch (Throwable t) {
                    closeFailure.set(t);
                }
            }, "context-close");
            closer.start();
            // close() has run, or waits for the pool being made: either way it has had its chance to miss it.
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> closer.getState() == Thread.State.TERMINATED || closer.getState() == Thread.State.WAITING);

            mayFinish.countDown();
            PortkeeperConnectionManager manager = made.get(30, TimeUnit.SECONDS);
            closer.join(Duration.ofSeconds(30).toMillis());

            assertThat(closer.isAlive()).as("close() returned").isFalse();
            assertThat(closeFailure.get()).isNull();
            assertThat(manager.isClosed()).as("the pool made while closing is closed").isTrue();
            assertThat(manager.pool().isClosed()).isTrue();
        } finally {
            mayFinish.countDown();
        }
    }

    private static void awaitOrFail(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("not counted down within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private CloseableHttpClient client(SslBundle bundle) {
        return HttpClients.custom().setConnectionManager(bootPools.managerFor(bundle, null, null))
                .setConnectionManagerShared(true).build();
    }

    private String get(CloseableHttpClient client) throws IOException {
        HttpGet get = new HttpGet("https://127.0.0.1:" + server.getAddress().getPort() + "/");
        return client.execute(get, response -> EntityUtils.toString(response.getEntity()));
    }

    private void startServerPresenting(String name) throws IOException {
        SslBundle identity = SslBundle.of(new PemSslStoreBundle(
                PemSslStoreDetails.forCertificate(pem(name + ".crt")).withPrivateKey(pem(name + ".key")), null));
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(identity.createSslContext()));
        server.createContext("/", exchange -> {
            byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    /** A bundle that trusts only the named self-signed certificate. */
    private static SslBundle trusting(String name) {
        return SslBundle.of(new PemSslStoreBundle(null, PemSslStoreDetails.forCertificate(pem(name + ".crt"))));
    }

    private static String pem(String file) {
        try (InputStream in = HttpManagersTest.class.getResourceAsStream("/tls/" + file)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
