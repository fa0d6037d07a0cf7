package io.github.portkeeper.rpc.testing;

import io.github.portkeeper.test.FreshPort;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real {@code redis-server} process of the test's own, on a free loopback port, with no
 * persistence; killed by {@link #close()}. Never a system service. Tests that need it are skipped
 * (with the reason) where {@code redis-server} is not on the PATH.
 */
public final class RedisServer implements AutoCloseable {

    private static final String READY = "Ready to accept connections";

    private final Process process;
    private final int port;
    private final Deque<String> log = new ConcurrentLinkedDeque<>();

    private RedisServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Skips the calling test unless {@code redis-server} is on the PATH. */
    public static void assumeInstalled() {
        assumeTrue(onPath("redis-server"), "redis-server is not on the PATH (Debian: apt-get install -y redis-server)");
    }

    /**
     * Starts {@code redis-server} and waits until it accepts connections.
     *
     * @param idleTimeoutSeconds Redis's {@code timeout} (0: never close idle clients)
     */
    public static RedisServer start(int idleTimeoutSeconds) throws IOException, InterruptedException {
        assumeInstalled();
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) { // a free port can be taken between probe and bind
            int port = freePort();
            List<String> command = new ArrayList<>(List.of("redis-server",
                    "--port", String.valueOf(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no",
                    "--timeout", String.valueOf(idleTimeoutSeconds),
                    "--daemonize", "no", "--protected-mode", "no",
                    "--dir", System.getProperty("java.io.tmpdir"),
                    "--logfile", ""));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            RedisServer server = new RedisServer(p, port);
            if (server.awaitReady()) {
                return server;
            }
            server.close();
            last = new IOException("redis-server did not start on port " + port + ": " + String.join("\n", server.log));
        }
        throw last;
    }

    private boolean awaitReady() throws InterruptedException {
        CountDownLatch ready = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    log.addLast(line);
                    if (log.size() > 200) {
                        log.removeFirst();
                    }
                    if (line.contains(READY)) {
                        ready.countDown();
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "redis-log-" + port);
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (ready.await(50, TimeUnit.MILLISECONDS)) {
                return true;
            }
            if (!process.isAlive()) {
                return false;
            }
        }
        return false;
    }

    public int port() {
        return port;
    }

    public String host() {
        return "127.0.0.1";
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** The last lines Redis logged, for failure messages. */
    public String log() {
        return String.join("\n", log);
    }

    /** Terminates the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A loopback port no socket of this host has now, not even a client's TIME_WAIT toward it (a
     * count toward the new server would include it). Redis must be told its port, so the port is
     * free only until something else binds it: {@link #start} tries again if Redis cannot bind.
     */
    private static int freePort() throws IOException {
        return FreshPort.choose(InetAddress.getLoopbackAddress());
    }

    private static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (new File(dir, program).canExecute()) {
                return true;
            }
        }
        return false;
    }
}
