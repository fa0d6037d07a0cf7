package io.github.portkeeper.core.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A network namespace of a test's own, for the tests that need a kernel they may configure
 * (a narrow {@code ip_local_port_range}, {@code tcp_tw_reuse=0}, links to cut): created with a
 * unique name (prefix, this JVM's pid, a random suffix), loopback up, and always deleted, by
 * {@link #close()} or, should the test JVM be killed mid-run, by a shutdown hook. Commands and
 * child JVMs run inside it through {@code ip netns exec}, since a JVM cannot move its own threads
 * into another namespace.
 *
 * <p>{@link #create} skips the calling test (a JUnit assumption, with the reason) unless this is
 * Linux, we are root, iproute2's {@code ip} is installed and a namespace can be made.
 */
public final class Netns implements AutoCloseable {

    private final String ip;
    private final String name;
    private final Thread cleanup;

    private Netns(String ip, String name) {
        this.ip = ip;
        this.name = name;
        this.cleanup = new Thread(this::delete, "netns-cleanup-" + name);
        Runtime.getRuntime().addShutdownHook(cleanup);
    }

    /** Creates a namespace named {@code prefix-<pid>-<random>} with its loopback up, or skips the test. */
    public static Netns create(String prefix) throws IOException, InterruptedException {
        String ip = requireIp();
        String name = prefix + "-" + ProcessHandle.current().pid() + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        return create(ip, name);
    }

    /**
     * Creates a namespace of exactly this name (for names that must stay short, like a pair's),
     * loopback up, or skips the test.
     */
    public static Netns named(String name) throws IOException, InterruptedException {
        return create(requireIp(), name);
    }

    private static String requireIp() {
        Assumptions.assumeTrue(Host.isLinux(), "needs Linux, this is " + System.getProperty("os.name"));
        Assumptions.assumeTrue(Host.isRoot(), "needs root to create a network namespace");
        Optional<String> ip = Host.executable("ip");
        Assumptions.assumeTrue(ip.isPresent(), "iproute2's 'ip' is not installed");
        return ip.get();
    }

    private static Netns create(String ip, String name) throws IOException, InterruptedException {
        Host.Result add = Host.run(List.of(ip, "netns", "add", name));
        Assumptions.assumeTrue(add.exitCode() == 0, "cannot create a network namespace: " + add);
        Netns ns = new Netns(ip, name);
        try {
            ns.check("link", "set", "lo", "up");
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /** The namespace's name. */
    public String name() {
        return name;
    }

    /** The path of iproute2's {@code ip}. */
    public String ip() {
        return ip;
    }

    /** {@code command}, to be run inside the namespace. */
    public List<String> exec(List<String> command) {
        List<String> inside = new ArrayList<>(List.of(ip, "netns", "exec", name));
        inside.addAll(command);
        return inside;
    }

    /** A fresh JVM running {@code main} inside the namespace, with this JVM's class path (see {@link Host#java}). */
    public List<String> java(Class<?> main, String... args) {
        return exec(Host.java(main, args));
    }

    /** Runs {@code ip -n <namespace> <args>}: configures the namespace's links and addresses. */
    public Host.Result ipCommand(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ip, "-n", name));
        command.addAll(List.of(args));
        return Host.run(command);
    }

    /** Like {@link #ipCommand}, failing the test if the command fails. */
    public void check(String... ipArgs) throws IOException, InterruptedException {
        Host.Result r = ipCommand(ipArgs);
        if (r.exitCode() != 0) {
            fail("command failed: " + r);
        }
    }

    /**
     * Sets a sysctl of the namespace, e.g. {@code sysctl("net.ipv4.tcp_tw_reuse", "0")}, by
     * writing its {@code /proc/sys} file from inside (no {@code sysctl(8)} needed); fails the test
     * if that fails.
     */
    public void sysctl(String key, String value) throws IOException, InterruptedException {
        String file = "/proc/sys/" + key.replace('.', '/');
        Host.Result r = Host.run(exec(List.of("sh", "-c", "echo \"$1\" > \"$2\"", "sh", value, file)));
        if (r.exitCode() != 0) {
            fail("cannot set " + key + "=" + value + " in namespace " + name + ": " + r);
        }
    }

    /** A child JVM that ran to its end (or was killed at its deadline): its output and how long it took. */
    public record Child(List<String> command, boolean exited, int exitCode, String stdout, String stderr, long millis) {

        /** The command, the time and the tails of both outputs, for assertion messages. */
        public String context() {
            return "child command: " + String.join(" ", command) + "\nchild took " + millis + " ms"
                    + "\n--- child stdout ---\n" + Host.tail(stdout) + "\n--- child stderr ---\n" + Host.tail(stderr);
        }

        /** Fails the test unless the child exited, with exit code 0. */
        public Child requireSuccess(long timeoutSeconds) {
            if (!exited) {
                fail("child JVM did not finish within " + timeoutSeconds + " s and was killed\n" + context());
            }
            if (exitCode != 0) {
                fail("child exit code " + exitCode + "\n" + context());
            }
            return this;
        }
    }

    /**
     * Runs {@code command} (from {@link #java}) to its end, its outputs in {@code dir}; after
     * {@code timeoutSeconds} it and its descendants are killed.
     */
    public static Child run(List<String> command, Path dir, String label, long timeoutSeconds) throws IOException, InterruptedException {
        File out = dir.resolve(label + ".out").toFile();
        File err = dir.resolve(label + ".err").toFile();
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectOutput(out).redirectError(err).start();
        boolean exited;
        try {
            exited = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        } finally {
            if (p.isAlive()) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        return new Child(List.copyOf(command), exited, exited ? p.exitValue() : -1,
                Files.readString(out.toPath(), StandardCharsets.UTF_8), Files.readString(err.toPath(), StandardCharsets.UTF_8), millis);
    }

    /** Deletes the namespace (its sockets and links go with it). */
    @Override
    public void close() {
        delete();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway; deleting twice is harmless
        }
    }

    private void delete() {
        try {
            Host.Result del = Host.run(List.of(ip, "netns", "del", name));
            if (del.exitCode() != 0 && !del.output().contains("No such file")) {
                System.err.println("[Netns] could not delete network namespace " + name + ": " + del);
            }
        } catch (IOException | InterruptedException e) {
            System.err.println("[Netns] could not delete network namespace " + name + ": " + e);
        }
    }
}
