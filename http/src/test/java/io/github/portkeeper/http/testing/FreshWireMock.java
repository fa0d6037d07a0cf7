package io.github.portkeeper.http.testing;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.github.portkeeper.test.FreshPort;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Starts WireMock on {@code 127.0.0.1} ports no socket of this host has, not even a client's
 * TIME_WAIT toward them, so a test's kernel counts toward it see only its own sockets (see
 * {@link FreshPort}). WireMock binds its ports itself, so it is given them, and started again
 * should another socket take one between the choice and the bind.
 */
public final class FreshWireMock {

    private static final int STARTS = 3;

    private FreshWireMock() {
    }

    /**
     * Starts WireMock with an HTTP port.
     *
     * @param configure the test's own options, the bind address and ports aside
     * @return the started server
     */
    public static WireMockServer http(UnaryOperator<WireMockConfiguration> configure) {
        return start(configure, false);
    }

    /**
     * Starts WireMock with an HTTP port and an HTTPS port.
     *
     * @param configure the test's own options, the bind address and ports aside
     * @return the started server
     */
    public static WireMockServer httpAndHttps(UnaryOperator<WireMockConfiguration> configure) {
        return start(configure, true);
    }

    private static WireMockServer start(UnaryOperator<WireMockConfiguration> configure, boolean https) {
        RuntimeException failed = null;
        for (int attempt = 0; attempt < STARTS; attempt++) {
            int[] ports = freshPorts(https ? 2 : 1);
            WireMockConfiguration options = configure.apply(options()).bindAddress("127.0.0.1").port(ports[0]);
            if (https) {
                options.httpsPort(ports[1]);
            }
            WireMockServer server = new WireMockServer(options);
            try {
                server.start();
                return server;
            } catch (RuntimeException e) {
                server.stop();
                failed = e;
            }
        }
        throw failed;
    }

    /** Distinct ports from {@link FreshPort}, each held until all are chosen. */
    private static int[] freshPorts(int n) {
        List<ServerSocket> probes = new ArrayList<>();
        try {
            InetAddress loopback = InetAddress.getByName("127.0.0.1");
            for (int i = 0; i < n; i++) {
                probes.add(FreshPort.listen(loopback, 1));
            }
            return probes.stream().mapToInt(ServerSocket::getLocalPort).toArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (ServerSocket probe : probes) {
                try {
                    probe.close();
                } catch (IOException ignored) {
                    // a probe that never accepted leaves nothing to close badly
                }
            }
        }
    }
}
