package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Stream;

/**
 * The idle watcher's cost: watches N idle pooled connections (default 5,000) and reports the
 * threads it uses, the heap it keeps per watched connection, and the CPU its thread burns while
 * everything is idle. The kernel says how many sockets are really registered: the epoll
 * instance's {@code /proc/self/fdinfo} lists one {@code tfd:} line per watched descriptor.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar io.github.portkeeper.benchmarks.IdleWatcherFootprint [N [SECONDS [nobudget]]]}
 * (needs about 2N+100 file descriptors: client and server ends live in this process; the
 * baseline's N pairs are closed, with a reset so that none lingers in the kernel's socket table,
 * before the pool opens its N).
 */
public final class IdleWatcherFootprint {

    private IdleWatcherFootprint() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 5_000;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        boolean budget = args.length < 3 || !args[2].equals("nobudget");
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        // Baseline: the same number of plain connected channels, no pool, on a listener of its
        // own; all of them gone, in the kernel too, before the pool's endpoint sees a connection.
        long heapRaw;
        try (ServerSocketChannel baseline = listener()) {
            heapRaw = baselineHeap(baseline, n, memory);
        }
        try (ServerSocketChannel server = listener()) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            Queue<SocketChannel> accepted = new ConcurrentLinkedQueue<>();
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(server.accept());
                    }
                } catch (IOException closed) {
                    // The server was closed: the run is over.
                }
            }, "acceptor");
            acceptor.setDaemon(true);
            acceptor.start();

            int threadsBefore = threads.getThreadCount();
            SocketPool pool = SocketPool.builder().poolConfig(PoolConfig.builder().name("footprint")
                    .maxPerEndpoint(n).maxTotal(n).maxIdleTime(Duration.ofHours(1))
                    .portBudget(budget ? io.github.portkeeper.core.PortBudget.defaults() : io.github.portkeeper.core.PortBudget.disabled())
                    .build()).build();
            List<Socket> leased = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                leased.add(pool.socket("127.0.0.1", port));
            }
            long heapLeased = settledHeap(memory);
            for (Socket s : leased) {
                s.close();
            }
            leased = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            int registered;
            while ((registered = epollRegistrations()) < n && System.nanoTime() < deadline) {
                Thread.sleep(10); // a measurement harness, not a test: waiting for the watcher to register them all
            }
            long heapWatched = settledHeap(memory);
            int threadsAfter = threads.getThreadCount();

            Thread watcher = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("portkeeper-watcher")).findFirst().orElseThrow();
            java.util.Map<Integer, TaskStats> tasks0 = TaskStats.all();
            long cpu0 = threads.getThreadCpuTime(watcher.getId());
            long wall0 = System.nanoTime();
            Thread.sleep(seconds * 1000L);
            long cpu = threads.getThreadCpuTime(watcher.getId()) - cpu0;
            long wall = System.nanoTime() - wall0;
            java.util.Map<Integer, TaskStats> tasks1 = TaskStats.all();
            long wakeups = 0;
            long ticks = 0;
            int poolThreads = 0;
            for (java.util.Map.Entry<Integer, TaskStats> t : tasks1.entrySet()) {
                if (t.getValue().name().startsWith("portkeeper-")) {
                    poolThreads++;
                    TaskStats b = tasks0.get(t.getKey());
                    wakeups += t.getValue().switches() - (b == null ? 0 : b.switches());
                    ticks += t.getValue().ticks() - (b == null ? 0 : b.ticks());
                }
            }
            System.out.printf("watched connections (kernel epoll registrations): %d of %d%n", registered, n);
            System.out.printf("threads added by the pool: %d%n", threadsAfter - threadsBefore);
            System.out.printf("heap per pooled connection, leased (vs plain channels): %.0f bytes%n", (heapLeased - heapRaw) / (double) n);
            System.out.printf("heap per watched idle connection (vs plain channels): %.0f bytes%n", (heapWatched - heapRaw) / (double) n);
            System.out.printf("watcher CPU while %d connections idle (budget %s, %d s): %.3f%% of one core%n", n,
                    budget ? "on" : "off", seconds, 100.0 * cpu / wall);
            System.out.printf("portkeeper threads at the end: %d; their wakeups: %.2f/s; their CPU (clock ticks): %.2f%% of one core%n",
                    poolThreads, wakeups / (wall / 1e9), 100.0 * ticks / 100.0 / (wall / 1e9));
            pool.close();
            for (SocketChannel c : accepted) {
                c.close();
            }
        } // closing the listener ends the acceptor
    }

    /**
     * Heap in use with {@code n} plain connected channels open to {@code listener}, both ends in
     * this process: what the pool's connections are compared with. Every channel is closed
     * before it returns, with a reset ({@code SO_LINGER} 0), so none of them is left in the
     * kernel's socket table (no FIN_WAIT2 or TIME_WAIT on the client side, no CLOSE_WAIT on the
     * server side) to be counted, or parsed, while the pool is measured.
     */
    static long baselineHeap(ServerSocketChannel listener, int n, MemoryMXBean memory) throws IOException, InterruptedException {
        List<SocketChannel> clients = new ArrayList<>(n);
        List<SocketChannel> servers = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                clients.add(client);
                client.setOption(StandardSocketOptions.SO_LINGER, 0);
                servers.add(listener.accept());
            }
            return settledHeap(memory);
        } finally {
            for (SocketChannel c : clients) {
                c.close();
            }
            for (SocketChannel c : servers) {
                c.close();
            }
        }
    }

    private static ServerSocketChannel listener() throws IOException {
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET);
        listener.bind(new InetSocketAddress("127.0.0.1", 0), 4096);
        return listener;
    }

    /** Heap in use after full collections have settled. */
    private static long settledHeap(MemoryMXBean memory) throws InterruptedException {
        long last = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            System.gc();
            Thread.sleep(50);
            long used = memory.getHeapMemoryUsage().getUsed();
            if (Math.abs(last - used) < 16 * 1024) {
                return used;
            }
            last = used;
        }
        return last;
    }

    /** Descriptors registered with this process's epoll instances, minus each selector's wake-up descriptor. */
    private static int epollRegistrations() throws IOException {
        int total = 0;
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    continue;
                }
                if (target.contains("eventpoll")) {
                    List<String> info = Files.readAllLines(Path.of("/proc/self/fdinfo", fd.getFileName().toString()));
                    long tfds = info.stream().filter(l -> l.startsWith("tfd:")).count();
                    total += (int) Math.max(0, tfds - 1);
                }
            }
        }
        return total;
    }
}
