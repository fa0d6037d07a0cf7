package io.github.portkeeper.cli.lab;

import io.github.portkeeper.cli.internal.Host;

import io.github.portkeeper.cli.PortkeeperCli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code --starved}: re-runs the lab in a network namespace of its own whose kernel has 1,000
 * ephemeral ports ({@code ip_local_port_range 40000 40999}) and never reuses TIME_WAIT
 * ({@code tcp_tw_reuse=0}), so the naive client meets EADDRNOTAVAIL for real, as it would
 * against a remote server.
 *
 * <p>A JVM cannot move its threads into another namespace, so the lab runs as a child JVM under
 * {@code ip netns exec}; its output is passed through. The child is stopped and the namespace
 * deleted afterwards, also if this JVM is stopped.
 */
final class Starved {

    static final String PORT_RANGE = "40000 40999";
    static final int PORT_RANGE_SIZE = 1_000;
    private static final long COMMAND_TIMEOUT_SECONDS = 15;
    /** How long a child asked to stop may take before it is killed. */
    private static final long STOP_SECONDS = 5;

    private Starved() {
    }

    /** Why --starved cannot run on this machine, or empty if it can (creating the namespace may still fail). */
    static Optional<String> unavailableReason() {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return Optional.of("it needs Linux network namespaces, and this is " + os);
        }
        if (!Host.isRoot()) {
            return Optional.of("it needs root to create a network namespace (run it with sudo)");
        }
        if (Host.executable("ip").isEmpty()) {
            return Optional.of("iproute2's 'ip' is not installed (apt-get install iproute2)");
        }
        if (Host.executable("sysctl").isEmpty()) {
            return Optional.of("'sysctl' is not installed (apt-get install procps)");
        }
        return Optional.empty();
    }

    static int run(LabOptions options, PrintStream out, PrintStream err) {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) {
            err.println("portkeeper lab: --starved cannot run here: " + why.get());
            return 2;
        }
        String ip = Host.executable("ip").get();
        String sysctl = Host.executable("sysctl").get();
        String ns = "pk-lab-" + ProcessHandle.current().pid() + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        try {
            Result add = command(ip, "netns", "add", ns);
            if (add.exitCode != 0) {
                err.println("portkeeper lab: --starved cannot run here: cannot create a network namespace: " + add);
                return 2;
            }
        } catch (IOException e) {
            err.println("portkeeper lab: --starved cannot run here: cannot run " + ip + ": " + e.getMessage());
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
        // Stopped by a signal, this JVM runs its shutdown hooks but no finally block: the hook
        // stops the child (ip netns exec runs java in place, so it is the child itself) before it
        // deletes the namespace, else the child runs on in a namespace that has lost its name.
        AtomicReference<Process> running = new AtomicReference<>();
        Thread cleanup = new Thread(() -> {
            stop(running.get());
            delete(ip, ns);
        }, "netns-cleanup-" + ns);
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            for (String[] setup : new String[][] {
                    {ip, "netns", "exec", ns, ip, "link", "set", "lo", "up"},
                    {ip, "netns", "exec", ns, sysctl, "-w", "net.ipv4.ip_local_port_range=" + PORT_RANGE},
                    {ip, "netns", "exec", ns, sysctl, "-w", "net.ipv4.tcp_tw_reuse=0"}}) {
                Result r = command(setup);
                if (r.exitCode != 0) {
                    err.println("portkeeper lab: --starved cannot run here: setting up the namespace failed: " + r);
                    return 2;
                }
            }
            out.printf(Locale.ROOT, "--starved: running the lab in network namespace %s: ip_local_port_range %s (%,d ports),"
                    + " tcp_tw_reuse=0%n%n", ns, PORT_RANGE.replace(' ', '-'), PORT_RANGE_SIZE);
            out.flush();
            return child(ip, ns, options, out, err, running);
        } catch (IOException e) {
            err.println("portkeeper lab: --starved failed: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            delete(ip, ns);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway; deleting twice is harmless
            }
        }
    }

    /** Runs the lab, without --starved, in the namespace; passes its output through; returns its exit status. */
    private static int child(String ip, String ns, LabOptions options, PrintStream out, PrintStream err,
                             AtomicReference<Process> running) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(ip, "netns", "exec", ns, java, "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), PortkeeperCli.class.getName(), "lab"));
        command.addAll(options.forwardable());
        Process p = new ProcessBuilder(command).start();
        running.set(p);
        Thread o = pump(p.getInputStream(), out, "stdout");
        Thread e = pump(p.getErrorStream(), err, "stderr");
        try {
            int code = p.waitFor();
            o.join();
            e.join();
            return code;
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** Asks the child to stop (SIGTERM), then, if it has not within a few seconds, kills it. */
    private static void stop(Process p) {
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        try {
            if (!p.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(STOP_SECONDS, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static Thread pump(InputStream in, PrintStream to, String name) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    to.write(buf, 0, n);
                    to.flush();
                }
            } catch (IOException ignored) {
                // the child is gone
            }
        }, "starved-" + name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void delete(String ip, String ns) {
        try {
            command(ip, "netns", "del", ns);
        } catch (IOException | InterruptedException e) {
            System.err.println("portkeeper lab: could not delete network namespace " + ns + ": " + e);
        }
    }

    private static final class Result {
        final List<String> command;
        final int exitCode;
        final String output;

        Result(List<String> command, int exitCode, String output) {
            this.command = command;
            this.exitCode = exitCode;
            this.output = output;
        }

        @Override
        public String toString() {
            return String.join(" ", command) + " -> exit " + exitCode + ": " + output.trim();
        }
    }

    /** Runs a short command, output and errors merged, killed after {@link #COMMAND_TIMEOUT_SECONDS}. */
    private static Result command(String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile("pk-lab-netns", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean exited = p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            return new Result(List.of(command), exited ? p.exitValue() : -1,
                    exited ? output : output + " (timed out after " + COMMAND_TIMEOUT_SECONDS + " s)");
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
