package io.github.portkeeper.http;

import io.github.portkeeper.core.ConnectGuard;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.TestCertificate;
import io.github.portkeeper.http.testing.TunnelProxy;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * HTTPS through an HTTP proxy ({@code CONNECT}): HttpClient connects TCP to the proxy, opens the
 * tunnel, and only then handshakes TLS with the target. The connect the guard, the listeners and
 * the meters hear of is the whole of it, handshake included, and the user's linger applies only
 * once it is done, as for a direct HTTPS connection.
 */
class TunnelConnectOutcomeTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Generous: a loaded two-core machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    /** Counts what the guard hears. */
    private static final class CountingGuard implements ConnectGuard {
        final AtomicInteger before = new AtomicInteger();
        final AtomicInteger succeeded = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger abandoned = new AtomicInteger();

        @Override
        public void beforeConnect(Endpoint endpoint) {
            before.incrementAndGet();
        }

        @Override
        public void connectSucceeded(Endpoint endpoint, long nanos) {
            succeeded.incrementAndGet();
        }

        @Override
        public void connectFailed(Endpoint endpoint, long nanos, IOException cause) {
            failed.incrementAndGet();
        }

        @Override
        public void connectAbandoned(Endpoint endpoint) {
            abandoned.incrementAndGet();
        }
    }

    private PortkeeperConnectionManager manager(PortkeeperConnectionManagerBuilder builder, String name,
                                                CountingGuard guard, TallyListener tally) {
        return leaks.track(leaks.closeAfter(builder
                .setPoolConfig(PoolConfig.builder().name(name).connectGuard(guard).listener(tally).build())
                .setDefaultSocketConfig(SocketConfig.custom().setSoLinger(TimeValue.ofSeconds(5)).build())
                .build()));
    }

    private CloseableHttpClient client(PortkeeperConnectionManager manager, TunnelProxy proxy) {
        return leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries()
                .setProxy(new HttpHost("http", "127.0.0.1", proxy.port())).build());
    }

    @Test
    void aFailedTlsHandshakeThroughAConnectTunnelIsAFailedConnectAndLeavesNoUncountedTimeWait() throws Exception {
        // The client does not trust this server's certificate: the handshake inside the tunnel fails.
        ScriptedHttpServer target = leaks.closeAfter(ScriptedHttpServer.builder().tls().start());
        TunnelProxy proxy = leaks.closeAfter(new TunnelProxy());
        InetSocketAddress proxyAddress = leaks.track(proxy.address());
        CountingGuard guard = new CountingGuard();
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "tunnel-handshake-fails",
                guard, tally);
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        CloseableHttpClient client = client(manager, proxy);

        Throwable thrown = catchThrowable(() -> client.execute(new HttpGet(target.url("/")),
                r -> EntityUtils.toString(r.getEntity())));

        assertThat(thrown).as("what the GET threw").isInstanceOf(SSLException.class);
        assertThat(proxy.connectLines()).as("CONNECT requests").hasSize(1);
        await("client sockets toward the proxy settled").atMost(PROMPTLY).pollInterval(Duration.ofMillis(10))
                .untilAsserted(() -> assertThat(Kernel.clientEstablished(proxyAddress) + Kernel.clientCloseWait(proxyAddress)
                        + Kernel.toward(proxyAddress, TcpState.FIN_WAIT1) + Kernel.toward(proxyAddress, TcpState.FIN_WAIT2)
                        + Kernel.toward(proxyAddress, TcpState.CLOSING) + Kernel.toward(proxyAddress, TcpState.LAST_ACK))
                        .as(() -> Kernel.describe(proxyAddress)).isZero());
        SoftAssertions.assertSoftly(soft -> {
            soft.assertThat(guard.before.get()).as("guard: beforeConnect").isEqualTo(1);
            soft.assertThat(guard.failed.get()).as("guard: connectFailed").isEqualTo(1);
            soft.assertThat(guard.succeeded.get()).as("guard: connectSucceeded").isZero();
            soft.assertThat(guard.abandoned.get()).as("guard: connectAbandoned").isZero();
            soft.assertThat(tally.connectFailed()).as("listeners: connects failed").isEqualTo(1);
            soft.assertThat(tally.opened()).as("listeners: connections opened").isZero();
            soft.assertThat(tally.closedEvents()).as("listeners: connections closed (none opened)").isEmpty();
            soft.assertThat(tally.closed(Ending.FAILED)).as("closed{failed}").isEqualTo(1);
            soft.assertThat(Kernel.clientTimeWait(proxyAddress)).as(() -> "client TIME_WAIT toward the proxy vs timewait.caused "
                    + metrics.timeWaitCaused() + "; " + Kernel.describe(proxyAddress)).isEqualTo(metrics.timeWaitCaused());
            soft.assertThat(metrics.timeWaitCaused()).as("portkeeper.timewait.caused").isZero();
        });
    }

    @Test
    void aConnectThroughATunnelSucceedsOnceItsTlsHandshakeIsDone() throws Exception {
        ScriptedHttpServer target = leaks.closeAfter(ScriptedHttpServer.builder().tls().start());
        TunnelProxy proxy = leaks.closeAfter(new TunnelProxy());
        leaks.track(proxy.address());
        CountingGuard guard = new CountingGuard();
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()), "tunnel-handshake-succeeds", guard, tally);
        CloseableHttpClient client = client(manager, proxy);

        for (int i = 0; i < 2; i++) {
            String body = client.execute(new HttpGet(target.url("/")), r -> EntityUtils.toString(r.getEntity()));
            assertThat(body).as("request %d", i).isNotNull();
        }

        assertThat(proxy.connectLines()).as("CONNECT requests (the tunnel is reused)").hasSize(1);
        assertThat(guard.succeeded.get()).as("guard: connectSucceeded").isEqualTo(1);
        assertThat(guard.failed.get() + guard.abandoned.get()).as("guard: connectFailed + connectAbandoned").isZero();
        assertThat(tally.opened()).as("listeners: connections opened").isEqualTo(1);
        assertThat(tally.reused()).as("listeners: reused leases").isEqualTo(1);
        assertThat(tally.connectFailed()).as("listeners: connects failed").isZero();
    }
}
