package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.core.SocketPool;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * The processes of {@link DoctorNamespaceTest}, each started in the namespace as its own JVM:
 * <ul>
 *   <li>{@code servers A B C}: A answers one line then waits for the client to close first;
 *       B answers lines on a connection as long as the client keeps it; C closes every
 *       connection as soon as it accepts it;</li>
 *   <li>{@code naive PORT RATE SECONDS}: a new connection per request at a paced rate, the client
 *       closing first; prints the rate it achieved;</li>
 *   <li>{@code pooled PORT RATE SECONDS}: the same requests through a Portkeeper {@link SocketPool};</li>
 *   <li>{@code leak PORT N}: opens N connections and never closes them, so each sits in CLOSE_WAIT
 *       once C has closed its side.</li>
 * </ul>
 * Each prints {@code READY pid=<pid>} once set up, and {@code RESULT ...} when done.
 */
public final class NamespaceRoles {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private NamespaceRoles() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "servers" -> servers(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            case "naive" -> paced(false, Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            case "pooled" -> paced(true, Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            case "leak" -> leak(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void servers(int a, int b, int c) throws IOException {
        List<ServerSocket> listeners = new ArrayList<>();
        for (int port : new int[] {a, b, c}) {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(LOOPBACK, port), 512);
            listeners.add(s);
        }
        thread(() -> acceptLoop(listeners.get(0), NamespaceRoles::answerOnceThenAwaitClose));
        thread(() -> acceptLoop(listeners.get(1), NamespaceRoles::answerLines));
        thread(() -> acceptLoop(listeners.get(2), Socket::close));
        ready();
        LockSupport.park(); // until the test ends the process
    }

    private interface Handler {
        void handle(Socket s) throws IOException;
    }

    private static void acceptLoop(ServerSocket server, Handler handler) {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                thread(() -> {
                    try (s) {
                        handler.handle(s);
                    } catch (IOException e) {
                        // the peer went away: nothing to serve
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void answerOnceThenAwaitClose(Socket s) throws IOException {
        BufferedReader in = reader(s);
        if (in.readLine() != null) {
            s.getOutputStream().write("ok\n".getBytes(StandardCharsets.US_ASCII));
            while (in.readLine() != null) {
                // the client closes first: its side keeps the TIME_WAIT
            }
        }
    }

    private static void answerLines(Socket s) throws IOException {
        BufferedReader in = reader(s);
        OutputStream out = s.getOutputStream();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        }
    }

    /** Requests at {@code rate} per second for {@code seconds}, by new connection or through a pool. */
    private static void paced(boolean pooled, int port, int rate, int seconds) throws IOException {
        SocketPool pool = pooled ? SocketPool.builder().readTimeout(Duration.ofSeconds(5)).build() : null;
        ready();
        long period = 1_000_000_000L / rate;
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        int done = 0;
        for (long next = start; next < end; next += period) {
            for (long wait = next - System.nanoTime(); wait > 0; wait = next - System.nanoTime()) {
                LockSupport.parkNanos(wait);
            }
            Socket s = pooled ? pool.socket(LOOPBACK.getHostAddress(), port) : new Socket(LOOPBACK, port);
            try (s) {
                s.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
                if (reader(s).readLine() == null) {
                    throw new IOException("server closed before answering");
                }
            }
            done++;
        }
        double took = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "RESULT requests=%d seconds=%.3f rate=%.3f%n", done, took, done / took);
        System.out.flush();
        LockSupport.park(); // keep the pool's connections open until the test ends the process
    }

    private static void leak(int port, int n) throws IOException {
        List<Socket> leaked = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            leaked.add(new Socket(LOOPBACK, port)); // never closed: CLOSE_WAIT once the server closes
        }
        ready();
        LockSupport.park();
        System.out.println(leaked.size()); // keeps the sockets reachable
    }

    private static BufferedReader reader(Socket s) throws IOException {
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
    }

    private static void ready() {
        System.out.println("READY pid=" + ProcessHandle.current().pid());
        System.out.flush();
    }

    private static void thread(Runnable r) {
        Thread t = new Thread(r);
        t.setDaemon(true);
        t.start();
    }
}
