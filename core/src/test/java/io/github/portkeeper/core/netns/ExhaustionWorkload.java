package io.github.portkeeper.core.netns;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The child process of {@link PortExhaustionTest}, run inside a network namespace with a narrow
 * {@code ip_local_port_range} and {@code tcp_tw_reuse=0}. Not a test itself.
 *
 * <p>Starts two loopback echo servers (read 4 bytes, write them back; a connection stays open
 * until the client closes it, the server never closes first), then:
 * <ol>
 *   <li>{@code naive}: a new connection per exchange to the first server, the client closing
 *       first, until the first failure (EADDRNOTAVAIL once every local port holds a TIME_WAIT);</li>
 *   <li>{@code pool}: {@code poolExchanges} exchanges through a {@link SocketPool} to the second
 *       server, at {@code concurrency} threads, which must all succeed.</li>
 * </ol>
 * Prints one line starting with {@code RESULT } of {@code key=value} pairs and exits 0; any
 * unexpected error exits 2 with a stack trace on stderr.
 *
 * <p>Arguments: {@code naivePort poolPort poolExchanges concurrency maxPerEndpoint}.
 */
public final class ExhaustionWorkload {

    static final String RESULT_PREFIX = "RESULT ";

    /** Every socket in this process has a timeout; nothing here may block for longer. */
    private static final int SOCKET_TIMEOUT_MILLIS = 5_000;
    /** Upper bound of the naive loop; the port range is 100 wide, so it fails long before. */
    private static final int NAIVE_MAX_ATTEMPTS = 2_000;

    private ExhaustionWorkload() {
    }

    public static void main(String[] args) {
        try {
            run(args);
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.flush();
            System.exit(2);
        }
    }

    @SuppressWarnings("try") // resources held open for the block, not used in it
    private static void run(String[] args) throws Exception {
        int naivePort = Integer.parseInt(args[0]);
        int poolPort = Integer.parseInt(args[1]);
        int poolExchanges = Integer.parseInt(args[2]);
        int concurrency = Integer.parseInt(args[3]);
        int maxPerEndpoint = Integer.parseInt(args[4]);

        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        InetSocketAddress naiveServer = new InetSocketAddress(loopback, naivePort);
        InetSocketAddress poolServer = new InetSocketAddress(loopback, poolPort);
        List<String> result = new ArrayList<>();

        // What the namespace really has, so the parent can tell a set-up slip from a pool bug.
        result.add("portRange=" + readSysctl("ip_local_port_range").replaceAll("\\s+", "-"));
        result.add("twReuse=" + readSysctl("tcp_tw_reuse"));

        KernelProbe probe = KernelProbe.linux();
        if (!probe.isAvailable()) {
            throw new IllegalStateException("no /proc/net/tcp in the namespace");
        }

        try (EchoServer first = EchoServer.start(naiveServer); EchoServer second = EchoServer.start(poolServer)) {
            // (1) naive: one connection per exchange, client closes first.
            long t0 = System.nanoTime();
            int naiveSucceeded = 0;
            Throwable naiveError = null;
            for (int i = 0; i < NAIVE_MAX_ATTEMPTS && naiveError == null; i++) {
                try (Socket s = new Socket()) {
                    s.setSoTimeout(SOCKET_TIMEOUT_MILLIS);
                    s.connect(naiveServer, SOCKET_TIMEOUT_MILLIS);
                    exchange(s, i);
                    naiveSucceeded++;
                } catch (IOException e) {
                    naiveError = e;
                }
            }
            long naiveMillis = (System.nanoTime() - t0) / 1_000_000;
            SocketTable afterNaive = probe.snapshot();
            result.add("naiveSucceeded=" + naiveSucceeded);
            result.add("naiveError=" + (naiveError == null ? "none" : describe(naiveError)));
            result.add("naiveMillis=" + naiveMillis);
            result.add("naiveTimeWait=" + afterNaive.countToRemote(TcpState.TIME_WAIT, naiveServer));

            // (2) pool: same kind of exchanges, to a different server port (fresh 4-tuples).
            PoolResult pool = runPool(naiveServer, poolServer, poolExchanges, concurrency, maxPerEndpoint, probe);
            result.add("poolExchanges=" + pool.succeeded);
            result.add("poolFailures=" + pool.failed);
            result.add("poolError=" + pool.firstError);
            result.add("poolMillis=" + pool.millis);
            result.add("poolLocalPorts=" + pool.localPorts.size());
            result.add("poolLocalPortsInRange=" + pool.localPortsInRange);
            result.add("poolPortsAlsoInTimeWait=" + pool.portsAlsoInTimeWait);
            result.add("poolEstablished=" + pool.establishedBeforeClose);
            result.add("poolTimeWait=" + pool.timeWaitBeforeClose);
            result.add("poolTimeWaitAfterClose=" + pool.timeWaitAfterClose);
            result.add("naiveTimeWaitAtEnd=" + pool.naiveTimeWaitAtEnd);
        }
        System.out.println(RESULT_PREFIX + String.join(" ", result));
    }

    private record PoolResult(int succeeded, int failed, String firstError, long millis, Set<Integer> localPorts,
                              int localPortsInRange, int portsAlsoInTimeWait, int establishedBeforeClose,
                              int timeWaitBeforeClose, int timeWaitAfterClose, int naiveTimeWaitAtEnd) {
    }

    private static PoolResult runPool(InetSocketAddress naiveServer, InetSocketAddress server, int exchanges, int concurrency, int maxPerEndpoint,
                                      KernelProbe probe) throws Exception {
        PoolConfig config = PoolConfig.builder()
                .name("netns-exhaustion")
                .maxPerEndpoint(maxPerEndpoint)
                .maxTotal(Math.max(maxPerEndpoint, 8))
                .leaseTimeout(Duration.ofSeconds(10))
                .build();
        SocketPool pool = SocketPool.builder()
                .poolConfig(config)
                .connectTimeout(Duration.ofMillis(SOCKET_TIMEOUT_MILLIS))
                .readTimeout(Duration.ofMillis(SOCKET_TIMEOUT_MILLIS))
                .build();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger succeeded = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicReference<String> firstError = new AtomicReference<>("none");
        Set<Integer> localPorts = ConcurrentHashMap.newKeySet();
        String host = server.getAddress().getHostAddress();
        int port = server.getPort();

        long t0 = System.nanoTime();
        ExecutorService workers = Executors.newFixedThreadPool(concurrency, r -> {
            Thread t = new Thread(r, "pool-worker");
            t.setDaemon(true);
            return t;
        });
        int[] ranges;
        SocketTable beforeClose;
        int timeWaitAfterClose;
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < concurrency; w++) {
                futures.add(workers.submit(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < exchanges) {
                        try (Socket s = pool.socket(host, port)) {
                            localPorts.add(s.getLocalPort());
                            exchange(s, i);
                            succeeded.incrementAndGet();
                        } catch (IOException | RuntimeException e) {
                            failed.incrementAndGet();
                            firstError.compareAndSet("none", describe(e));
                        }
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
            ranges = localPortRange();
            beforeClose = probe.snapshot();
        } finally {
            workers.shutdownNow();
            pool.close();
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        SocketTable afterClose = settled(probe, server);
        timeWaitAfterClose = afterClose.countToRemote(TcpState.TIME_WAIT, server);

        int inRange = 0;
        int alsoInTimeWait = 0;
        for (int p : localPorts) {
            if (p >= ranges[0] && p <= ranges[1]) {
                inRange++;
            }
            // This local port also carries a TIME_WAIT socket (toward the naive server):
            // TIME_WAIT blocks the 4-tuple, not the local port.
            if (beforeClose.countOnLocalPort(TcpState.TIME_WAIT, p) > 0) {
                alsoInTimeWait++;
            }
        }
        return new PoolResult(succeeded.get(), failed.get(), firstError.get(), millis, localPorts, inRange,
                alsoInTimeWait,
                beforeClose.countToRemote(TcpState.ESTABLISHED, server),
                beforeClose.countToRemote(TcpState.TIME_WAIT, server),
                timeWaitAfterClose,
                beforeClose.countToRemote(TcpState.TIME_WAIT, naiveServer));
    }

    /** Writes 4 bytes (the exchange number) and reads the 4-byte echo. */
    private static void exchange(Socket s, int n) throws IOException {
        byte[] request = ByteBuffer.allocate(4).putInt(n).array();
        OutputStream out = s.getOutputStream();
        out.write(request);
        out.flush();
        byte[] response = s.getInputStream().readNBytes(4);
        if (!Arrays.equals(request, response)) {
            throw new IOException("bad echo for " + n + ": " + Arrays.toString(response));
        }
    }

    /** {@code class:message}, without spaces so it stays one {@code key=value} token. */
    static String describe(Throwable e) {
        Throwable root = e;
        StringBuilder sb = new StringBuilder(e.getClass().getName() + ":" + e.getMessage());
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
            sb.append("<-").append(root.getClass().getName()).append(':').append(root.getMessage());
        }
        return sb.toString().replace(' ', '_');
    }

    /**
     * Reads a sysctl with one large read. Not {@code Files.readString}: /proc/sys files report
     * size 0, so the JDK starts with a 1-byte read, and the sysctl handlers answer any read at a
     * non-zero offset with end of file: it returns just the first character ("4" for "40000 40099").
     */
    private static String readSysctl(String name) throws IOException {
        try (InputStream in = Files.newInputStream(Path.of("/proc/sys/net/ipv4", name))) {
            byte[] buf = new byte[4096];
            int n = in.read(buf);
            return n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.US_ASCII).trim();
        }
    }

    private static int[] localPortRange() throws IOException {
        String[] parts = readSysctl("ip_local_port_range").split("\\s+");
        return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
    }

    /**
     * Echoes 4-byte requests on a thread per connection. Closes a connection only after the
     * client has closed it (end of stream) or after a long read timeout, so the client is
     * always the one to close first.
     */
    private static final class EchoServer implements AutoCloseable {

        private static final int SERVER_READ_TIMEOUT_MILLIS = 90_000;

        private final ServerSocket serverSocket;

        private EchoServer(ServerSocket serverSocket) {
            this.serverSocket = serverSocket;
        }

        static EchoServer start(InetSocketAddress address) throws IOException {
            ServerSocket ss = new ServerSocket();
            ss.setReuseAddress(true);
            ss.bind(address, 1024);
            EchoServer server = new EchoServer(ss);
            Thread acceptor = new Thread(server::acceptLoop, "echo-accept-" + address.getPort());
            acceptor.setDaemon(true);
            acceptor.start();
            return server;
        }

        private void acceptLoop() {
            while (!serverSocket.isClosed()) {
                Socket c;
                try {
                    c = serverSocket.accept();
                } catch (IOException e) {
                    return;
                }
                Thread t = new Thread(() -> serve(c), "echo-conn");
                t.setDaemon(true);
                t.start();
            }
        }

        private void serve(Socket c) {
            try (c) {
                c.setSoTimeout(SERVER_READ_TIMEOUT_MILLIS);
                InputStream in = c.getInputStream();
                OutputStream out = c.getOutputStream();
                byte[] buf = new byte[4];
                while (in.readNBytes(buf, 0, 4) == 4) {
                    out.write(buf);
                    out.flush();
                }
            } catch (SocketTimeoutException e) {
                // a client idle for 90 s: the workload is long over
            } catch (IOException e) {
                // reset by the client (e.g. the pool closing with RST): nothing to do
            }
        }

        @Override
        public void close() throws IOException {
            serverSocket.close();
        }
    }

    /**
     * The kernel's table once no socket toward {@code server} is still closing (FIN_WAIT1/2,
     * CLOSING, LAST_ACK): what the pool's close did has reached its final state. Bounded: after
     * 10 s the table is taken as it is, and the counts then tell.
     */
    private static SocketTable settled(KernelProbe probe, InetSocketAddress server) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            SocketTable table = probe.snapshot();
            int closing = 0;
            for (TcpState state : List.of(TcpState.FIN_WAIT1, TcpState.FIN_WAIT2, TcpState.CLOSING, TcpState.LAST_ACK)) {
                closing += table.countToRemote(state, server);
            }
            if (closing == 0 || System.nanoTime() > deadline) {
                return table;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // poll interval
        }
    }
}
