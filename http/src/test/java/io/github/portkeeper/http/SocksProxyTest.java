package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.Socks5Proxy;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * Through a SOCKS proxy ({@code SocketConfig.setSocksProxyAddress}) HttpClient connects a plain
 * socket, and the JDK does the SOCKS handshake inside its connect. The connection is pooled like
 * any other; a handshake that fails is a failed connect, and the socket's close, whoever makes it
 * (the JDK closes it itself when the proxy refuses), leaves no client TIME_WAIT that
 * {@code portkeeper.timewait.caused} does not count.
 */
class SocksProxyTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Generous: a loaded two-core machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    @Test
    void aConnectionThroughASocksProxyIsPooledAndReused() throws Exception {
        ScriptedHttpServer target = leaks.closeAfter(ScriptedHttpServer.builder().start());
        Socks5Proxy proxy = leaks.closeAfter(new Socks5Proxy(Socks5Proxy.Policy.RELAY));
        leaks.track(proxy.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("socks-relays").listener(tally).build())
                .setDefaultSocketConfig(SocketConfig.custom().setSoLinger(TimeValue.ofSeconds(5))
                        .setSocksProxyAddress(proxy.address()).build())
                .build()));
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .disableAutomaticRetries().build());

        for (int i = 0; i < 2; i++) {
            int status = client.execute(new HttpGet(target.url("/")), r -> {
                EntityUtils.consume(r.getEntity());
                return r.getCode();
            });
            assertThat(status).as("request %d", i).isEqualTo(200);
        }

        assertThat(proxy.connectRequests()).as("SOCKS CONNECT requests (the connection is reused)").isEqualTo(1);
        assertThat(tally.opened()).as("listeners: connections opened").isEqualTo(1);
        assertThat(tally.reused()).as("listeners: reused leases").isEqualTo(1);
        assertThat(tally.connectFailed()).as("listeners: connects failed").isZero();
    }

    @Test
    void aSocksProxyThatRefusesTheConnectLeavesNoUncountedTimeWait() throws Exception {
        failsAndLeavesNoUncountedTimeWait(Socks5Proxy.Policy.REFUSE, SocketConfig.custom(), "socks-refuses");
    }

    @Test
    void aSocksProxyThatRefusesTheConnectLeavesNoUncountedTimeWaitWhateverTheUsersLinger() throws Exception {
        failsAndLeavesNoUncountedTimeWait(Socks5Proxy.Policy.REFUSE,
                SocketConfig.custom().setSoLinger(TimeValue.ofSeconds(5)), "socks-refuses-linger");
    }

    @Test
    void aSocksProxyThatClosesDuringTheHandshakeLeavesNoUncountedTimeWait() throws Exception {
        failsAndLeavesNoUncountedTimeWait(Socks5Proxy.Policy.CLOSE, SocketConfig.custom(), "socks-closes");
    }

    private void failsAndLeavesNoUncountedTimeWait(Socks5Proxy.Policy policy, SocketConfig.Builder socketConfig,
                                                   String name) throws Exception {
        Socks5Proxy proxy = leaks.closeAfter(new Socks5Proxy(policy));
        InetSocketAddress proxyAddress = leaks.track(proxy.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build())
                .setDefaultSocketConfig(socketConfig.setSocksProxyAddress(proxyAddress).build())
                .build()));
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .disableAutomaticRetries().build());

        // The proxy never connects anywhere: the target's address only goes into the request.
        Throwable thrown = catchThrowable(() -> client.execute(new HttpGet("http://127.0.0.1:9/"),
                r -> EntityUtils.toString(r.getEntity())));

        assertThat(thrown).as("what the GET threw").isInstanceOf(IOException.class);
        assertThat(proxy.connectRequests()).as("SOCKS CONNECT requests").isEqualTo(1);
        await("client sockets toward the proxy settled").atMost(PROMPTLY).pollInterval(Duration.ofMillis(10))
                .untilAsserted(() -> assertThat(Kernel.clientEstablished(proxyAddress) + Kernel.clientCloseWait(proxyAddress)
                        + Kernel.toward(proxyAddress, TcpState.FIN_WAIT1) + Kernel.toward(proxyAddress, TcpState.FIN_WAIT2)
                        + Kernel.toward(proxyAddress, TcpState.CLOSING) + Kernel.toward(proxyAddress, TcpState.LAST_ACK))
                        .as(() -> Kernel.describe(proxyAddress)).isZero());
        SoftAssertions.assertSoftly(soft -> {
            soft.assertThat(tally.connectFailed()).as("listeners: connects failed").isEqualTo(1);
            soft.assertThat(tally.opened()).as("listeners: connections opened").isZero();
            soft.assertThat(tally.closed(Ending.FAILED)).as("closed{failed}").isEqualTo(1);
            soft.assertThat(Kernel.clientTimeWait(proxyAddress)).as(() -> "client TIME_WAIT toward the proxy vs timewait.caused "
                    + metrics.timeWaitCaused() + "; " + Kernel.describe(proxyAddress)).isEqualTo(metrics.timeWaitCaused());
        });
    }
}
