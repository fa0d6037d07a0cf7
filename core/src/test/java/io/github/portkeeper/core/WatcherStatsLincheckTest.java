package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.WatchedEntries;
import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.ScriptedServer;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.Operation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;

/**
 * Lincheck, model-checking strategy, over a real loopback connection: the watcher's round takes
 * a watched idle connection the selector reported readable, finds nothing there and gives it
 * back to the watched set. The connection stays idle throughout, so {@link Pool#stats()} (the
 * {@code portkeeper.connections} gauges) must show it idle at every step, never draining or
 * active.
 */
public class WatcherStatsLincheckTest {

    private static final ScriptedServer SERVER = startServer();
    private static final Endpoint SERVER_ENDPOINT = Endpoint.of(SERVER.host(), SERVER.port());

    private final Pool<SocketChannel> pool;

    /** Each run: one idle connection, watched, and reported readable with nothing to read. */
    public WatcherStatsLincheckTest() throws IOException {
        FakeTicker ticker = new FakeTicker();
        pool = Pool.of(ChannelConnector.plain(), PoolConfig.builder()
                .ticker(ticker).lifetimeJitter(Duration.ZERO).maxIdleTime(Duration.ofSeconds(30))
                .housekeepingInterval(Duration.ofSeconds(1)).retirement(Retirement.reset())
                .portBudget(PortBudget.disabled()).build());
        pool.lease(SERVER_ENDPOINT).close();
        ticker.advance(Duration.ofSeconds(2));
        pool.engine().maintain(); // idle for one housekeeping interval: watched
        if (WatchedEntries.reportReadable(pool.engine()) != 1) {
            throw new IllegalStateException("the idle connection is not watched: " + pool.stats());
        }
    }

    private static ScriptedServer startServer() {
        try {
            return ScriptedServer.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterAll
    static void stopServer() {
        SERVER.close();
    }

    /** The pool's housekeeping round, as the watcher runs it: it looks at what the selector reported. */
    @Operation
    public void watcherRound() {
        pool.engine().maintain();
    }

    @Operation
    public void statsShowTheConnectionIdle() {
        PoolStats.EndpointStats s = pool.stats(SERVER_ENDPOINT);
        if (!s.equals(new PoolStats.EndpointStats(0, 1, 0, 0))) {
            throw new AssertionError("one idle connection, shown as " + s);
        }
    }

    @Operation
    public void closePool() {
        pool.close();
    }

    @Test
    void aWatchedConnectionReportedReadableWithNothingToReadShowsIdleThroughout() throws InterruptedException {
        ExecutionScenario scenario = new ExecutionScenario(List.of(),
                List.of(List.of(op("watcherRound")),
                        List.of(op("statsShowTheConnectionIdle"), op("statsShowTheConnectionIdle"))),
                List.of(op("statsShowTheConnectionIdle"), op("closePool")), null);
        EngineLincheckTest.checkWithWatcherHeld(EngineLincheckTest.explorationOf(0, 300).addCustomScenario(scenario),
                WatcherStatsLincheckTest.class);
    }

    private static Actor op(String name) {
        try {
            return new Actor(WatcherStatsLincheckTest.class.getMethod(name), List.of());
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
