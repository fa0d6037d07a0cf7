package io.github.portkeeper.test.example;

import static io.github.portkeeper.test.PortkeeperAssertions.assertTimeWaitCausedMatchesKernel;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.test.KernelCheck;
import io.github.portkeeper.test.LineServer;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The example of docs/testing.md, as it stands there: a pooled client judged by the kernel. */
class ClientLeavesNoTimeWaitTest {

    LineServer server;            // any server: here a loopback echo server on port 0
    SocketPool pool;
    final TallyListener tally = new TallyListener();

    @RegisterExtension
    final KernelCheck kernel = KernelCheck.toward(() -> server.address())
            .noNewClientTimeWait()
            .noClientCloseWait(Duration.ofSeconds(2))
            .noLeaseHeld(() -> pool.pool())
            .timeWaitCausedMatchesKernel(tally::timeWaitCaused);

    @BeforeEach
    void start() throws Exception {
        server = LineServer.echo();
        pool = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build()).build();
    }

    @AfterEach
    void stop() throws Exception {
        pool.close();             // the checks ran right after the test method
        server.close();
    }

    @Test
    void hundredRequestsLeaveNoTimeWait() throws Exception {
        TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
        for (int i = 0; i < 100; i++) {
            try (Socket s = pool.socket("127.0.0.1", server.address().getPort())) {
                s.getOutputStream().write(("hello " + i + "\n").getBytes(StandardCharsets.US_ASCII));
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                assertEquals("hello " + i, in.readLine());
            }
        }
        assertTimeWaitCausedMatchesKernel(tally.timeWaitCaused(), timeWait);
    }
}
