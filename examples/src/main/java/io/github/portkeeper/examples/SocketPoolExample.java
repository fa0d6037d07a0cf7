package io.github.portkeeper.examples;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * Pooled raw sockets: {@code pool.socket(host, port)} where the code had {@code new Socket(host, port)}.
 * Starts its own loopback server (it doubles an int; it closes connections idle for more than a
 * second, first, as real servers do), sends 1,000 requests through a {@link SocketPool}, waits for
 * the server's idle timeout, and prints what the pool's metrics and the kernel say.
 *
 * <p>Run: {@code java -cp examples/target/portkeeper-examples.jar io.github.portkeeper.examples.SocketPoolExample}
 */
public final class SocketPoolExample {

    private SocketPoolExample() {
    }

    /**
     * Runs the example and prints its figures to standard output. Takes about two seconds: it
     * waits out the server's idle timeout.
     *
     * @param args ignored
     * @throws Exception if the server cannot start or a request fails (the example stops there)
     */
    public static void main(String[] args) throws Exception {
        try (ServerSocket server = startDoublingServer(Duration.ofSeconds(1))) {
            int port = server.getLocalPort();
            PoolMetrics metrics;
            try (SocketPool pool = SocketPool.builder()
                    .poolConfig(PoolConfig.builder().name("doubler").maxPerEndpoint(4).build())
                    .readTimeout(Duration.ofSeconds(5))
                    .build()) {
                metrics = new PoolMetrics(pool.pool());
                metrics.bindTo(new SimpleMeterRegistry());

                for (int i = 0; i < 1_000; i++) {
                    try (Socket s = pool.socket("127.0.0.1", port)) {           // was: new Socket(host, port)
                        new DataOutputStream(s.getOutputStream()).writeInt(i);  // one request...
                        int answer = new DataInputStream(s.getInputStream()).readInt(); // ...exactly its response
                        if (answer != 2 * i) {
                            throw new IllegalStateException("expected " + 2 * i + " but got " + answer);
                        }
                    }                                                            // close = give it back
                }
                System.out.println("1,000 requests on " + pool.pool().stats().idle() + " pooled connection(s)");

                Thread.sleep(1_500); // idle past the server's timeout: the server closes first
            } // closed however the run ends

            InetSocketAddress remote = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port);
            KernelProbe kernel = KernelProbe.linux();
            System.out.println("leases served:            " + metrics.leasesServed());
            System.out.println("TIME_WAIT caused (pool): " + metrics.timeWaitCaused());
            System.out.println("timewait.avoided:         " + metrics.timeWaitAvoided());
            if (kernel.isAvailable()) {
                System.out.println("TIME_WAIT on this host (kernel): "
                        + kernel.snapshot().countToRemote(TcpState.TIME_WAIT, remote));
            }
        }
    }

    /** Reads ints, answers each doubled; closes a connection idle longer than {@code idle}. */
    private static ServerSocket startDoublingServer(Duration idle) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        Thread acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
                    Thread t = new Thread(() -> serve(c, idle), "doubler-conn");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException closed) {
                    return;
                }
            }
        }, "doubler-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        return server;
    }

    private static void serve(Socket c, Duration idle) {
        try (c) {
            c.setTcpNoDelay(true);
            c.setSoTimeout((int) idle.toMillis());
            DataInputStream in = new DataInputStream(c.getInputStream());
            DataOutputStream out = new DataOutputStream(c.getOutputStream());
            while (true) {
                out.writeInt(2 * in.readInt());
                out.flush();
            }
        } catch (SocketTimeoutException idleTooLong) {
            // idle past the timeout: closing here makes the server the one that closes first
        } catch (IOException gone) {
            // the client went away
        }
    }
}
