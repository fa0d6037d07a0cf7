package io.github.portkeeper.examples.jdbc;

import io.github.portkeeper.test.FreshPort;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real PostgreSQL server of the test's own: a cluster made by {@code initdb} (trust
 * authentication, user {@code postgres}) in a directory the test gives, and a {@code postgres}
 * process on a fresh loopback port, started and stopped per test with the settings it asks for.
 * Never the packaged service. PostgreSQL refuses to run as root: when the JVM is root, the
 * directory is handed to the {@code postgres} user and the programs run as it ({@code runuser}).
 * Tests are skipped, with the reason, where Debian's binaries ({@code /usr/lib/postgresql/<version>/bin})
 * are absent.
 */
final class PostgresServer implements AutoCloseable {

    private static final Path INSTALLS = Paths.get("/usr/lib/postgresql");
    private static final String READY = "database system is ready to accept connections";
    private static final long START_SECONDS = 30;

    private final Path bin;
    private final Path data;
    private final Path sockets;
    private final boolean asPostgresUser;
    private final int port;
    private final Process process;
    private final Deque<String> log = new ConcurrentLinkedDeque<>();

    private PostgresServer(Cluster cluster, int port, Process process) {
        this.bin = cluster.bin;
        this.data = cluster.data;
        this.sockets = cluster.sockets;
        this.asPostgresUser = cluster.asPostgresUser;
        this.port = port;
        this.process = process;
    }

    /** A cluster made by {@code initdb}, to start servers on. */
    static final class Cluster {
        final Path bin;
        final Path data;
        final Path sockets;
        final boolean asPostgresUser;
        final int majorVersion;

        private Cluster(Path bin, Path data, Path sockets, boolean asPostgresUser, int majorVersion) {
            this.bin = bin;
            this.data = data;
            this.sockets = sockets;
            this.asPostgresUser = asPostgresUser;
            this.majorVersion = majorVersion;
        }

        /**
         * Runs {@code initdb} into {@code dir}/data; skips the calling test where PostgreSQL is
         * not installed.
         */
        static Cluster init(Path dir) throws IOException, InterruptedException {
            Optional<Path> bin = newestInstall();
            assumeTrue(bin.isPresent(), "PostgreSQL's server binaries are not installed (no " + INSTALLS
                    + "/<version>/bin/postgres; Debian: apt-get install -y postgresql)");
            boolean root = "root".equals(System.getProperty("user.name"));
            if (root) {
                // PostgreSQL will not run as root; its files and its socket directory are the postgres user's.
                run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
            }
            Path data = dir.resolve("data");
            run(List.of(bin.get().resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--locale=C", "--no-sync"), root);
            return new Cluster(bin.get(), data, dir, root, major(bin.get()));
        }

        /**
         * Starts {@code postgres} on a fresh loopback port with {@code settings} ({@code name=value},
         * each passed as {@code -c}) and waits, at most 30 s, until it accepts connections.
         */
        PostgresServer start(String... settings) throws IOException, InterruptedException {
            IOException last = null;
            for (int attempt = 0; attempt < 3; attempt++) { // the port can be taken between choosing and binding
                int port = FreshPort.choose(InetAddress.getLoopbackAddress());
                List<String> command = new ArrayList<>(List.of(bin.resolve("postgres").toString(), "-D", data.toString(),
                        "-p", String.valueOf(port), "-k", sockets.toString(), "-c", "listen_addresses=127.0.0.1",
                        "-c", "fsync=off"));
                for (String setting : settings) {
                    command.add("-c");
                    command.add(setting);
                }
                Process p = builder(command, asPostgresUser).start();
                PostgresServer server = new PostgresServer(this, port, p);
                if (server.awaitReady()) {
                    return server;
                }
                server.close();
                last = new IOException("postgres did not start on port " + port + " within " + START_SECONDS + " s:\n" + server.log());
            }
            throw last;
        }
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** The JDBC URL of the {@code postgres} database, with {@code parameters} ({@code a=b&c=d}) if any. */
    String jdbcUrl(String parameters) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres" + (parameters.isEmpty() ? "" : "?" + parameters);
    }

    /** The last lines the server logged, for failure messages. */
    String log() {
        return String.join("\n", log);
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
        }, "postgres-log-" + port);
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
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

    /**
     * Stops the server with a fast shutdown ({@code pg_ctl stop -m fast}: sessions are ended, not
     * waited for), at most 20 s; then, if it still runs, kills the postmaster.
     */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                Process stop = builder(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w",
                        "-t", "20", "stop"), asPostgresUser).start();
                if (!stop.waitFor(30, TimeUnit.SECONDS)) {
                    stop.destroyForcibly();
                }
            }
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                // runuser does not pass SIGKILL on: kill the postmaster itself by its pid file.
                Path pidFile = data.resolve("postmaster.pid");
                if (Files.exists(pidFile)) {
                    long pid = Long.parseLong(Files.readAllLines(pidFile).get(0).trim());
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                }
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static ProcessBuilder builder(List<String> command, boolean asPostgresUser) {
        List<String> full = new ArrayList<>();
        if (asPostgresUser) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true);
        pb.environment().put("LC_ALL", "C");
        return pb;
    }

    /** Runs a program to its end (at most 60 s) and fails with its output if it fails. */
    private static void run(List<String> command, boolean asPostgresUser) throws IOException, InterruptedException {
        Path out = Files.createTempFile("postgres-setup", ".log");
        try {
            Process p = builder(command, asPostgresUser).redirectOutput(out.toFile()).start();
            boolean ended = p.waitFor(60, TimeUnit.SECONDS);
            if (!ended || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + (ended ? " failed" : " did not end within 60 s") + ":\n"
                        + Files.readString(out, StandardCharsets.UTF_8));
            }
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** {@code /usr/lib/postgresql/<version>/bin} of the newest version with a {@code postgres} binary. */
    private static Optional<Path> newestInstall() throws IOException {
        if (!Files.isDirectory(INSTALLS)) {
            return Optional.empty();
        }
        List<Path> bins = new ArrayList<>();
        try (DirectoryStream<Path> versions = Files.newDirectoryStream(INSTALLS, "[0-9]*")) {
            for (Path version : versions) {
                Path bin = version.resolve("bin");
                if (Files.isExecutable(bin.resolve("postgres")) && Files.isExecutable(bin.resolve("initdb"))) {
                    bins.add(bin);
                }
            }
        }
        return bins.stream().max(Comparator.comparingInt(PostgresServer::major));
    }

    /** The major version of {@code <version>/bin}: 15 of {@code 15}, 9 of {@code 9.6}. */
    private static int major(Path bin) {
        String version = bin.getParent().getFileName().toString();
        int dot = version.indexOf('.');
        return Integer.parseInt(dot < 0 ? version : version.substring(0, dot));
    }
}
