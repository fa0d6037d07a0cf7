package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.internal.ProcNetTcpParser;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of one kernel-probe snapshot on a busy host: parsing {@code /proc/net/tcp} and
 * {@code /proc/net/tcp6} holding {@code lines} sockets in all (half in each), and one count
 * over the result. The tables are generated in memory, so the file read is not measured.
 *
 * <p>The tables mimic a Java-heavy host: most sockets are ESTABLISHED or TIME_WAIT toward a few
 * dozen endpoints, and half of the tcp6 entries are IPv4-mapped, as dual-stack Java sockets are.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar KernelProbeBenchmark}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class KernelProbeBenchmark {

    private static final int[] STATES = {0x01, 0x01, 0x01, 0x01, 0x06, 0x06, 0x06, 0x08, 0x0A};
    private static final byte[] TARGET = {10, 0, 0, 1};
    private static final int TARGET_PORT = 8080;

    /** Sockets in both tables together. */
    @Param("100000")
    public int lines;

    private byte[] tcp;
    private byte[] tcp6;
    private ProcNetTcpParser.Sockets parsed;

    /** Generates both tables, seeded so every run parses the same bytes. */
    @Setup(Level.Trial)
    public void generateTables() {
        Random random = new Random(42);
        StringBuilder v4 = new StringBuilder(lines / 2 * 150 + 200).append(
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
                        + "   uid  timeout inode\n");
        StringBuilder v6 = new StringBuilder(lines / 2 * 180 + 200).append(
                "  sl  local_address                         remote_address                       "
                        + " st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        for (int i = 0; i < lines / 2; i++) {
            byte[] remote = remote(random);
            v4.append(line(i, hex(new byte[] {10, 0, 0, 2}), hex(remote), random));
            // The kernel pads tcp lines to 149 characters.
            v4.setLength(v4.length() - 1);
            while (v4.length() - v4.lastIndexOf("\n") - 1 < 149) {
                v4.append(' ');
            }
            v4.append('\n');
            byte[] remote6 = random.nextBoolean() ? mapped(remote) : ipv6(random);
            v6.append(line(i, hex(ipv6(random)), hex(remote6), random));
        }
        tcp = v4.toString().getBytes(StandardCharsets.US_ASCII);
        tcp6 = v6.toString().getBytes(StandardCharsets.US_ASCII);
        parsed = ProcNetTcpParser.parseAll(tcp, tcp6);
        int count = parsed.countToRemoteV4(0x06, ByteBuffer.wrap(TARGET).getInt(), TARGET_PORT);
        if (parsed.size() != lines - lines % 2 || count == 0) {
            throw new IllegalStateException("generated tables do not parse as intended: "
                    + parsed.size() + " sockets, " + count + " TIME_WAIT to the target");
        }
    }

    /** Parses both tables: the cost of one {@code KernelProbe.snapshot()} less the reads. */
    @Benchmark
    public ProcNetTcpParser.Sockets parseBothTables() {
        return ProcNetTcpParser.parseAll(tcp, tcp6);
    }

    /** Counts TIME_WAIT toward one endpoint in a parsed snapshot: the cost of one gauge read. */
    @Benchmark
    public int countTimeWaitToOneRemote() {
        return parsed.countToRemoteV4(0x06, ByteBuffer.wrap(TARGET).getInt(), TARGET_PORT);
    }

    private static String line(int slot, String local, String remote, Random random) {
        return String.format("%4d: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000"
                        + " %5d %8d %d 1 %016x 20 4 30 10 -1\n",
                slot, local, 32_768 + random.nextInt(28_232), remote, remotePort(random),
                STATES[random.nextInt(STATES.length)], 1000, 0, 100_000 + slot, random.nextLong());
    }

    private static int remotePort(Random random) {
        return random.nextInt(4) == 0 ? TARGET_PORT : 1024 + random.nextInt(64);
    }

    /** A remote among a few dozen endpoints, a quarter of them the benchmark's target. */
    private static byte[] remote(Random random) {
        return random.nextInt(4) == 0 ? TARGET.clone() : new byte[] {10, 0, 1, (byte) random.nextInt(32)};
    }

    private static byte[] ipv6(Random random) {
        byte[] address = new byte[16];
        random.nextBytes(address);
        address[0] = 0x20;
        address[1] = 0x01;
        return address;
    }

    private static byte[] mapped(byte[] ipv4) {
        byte[] address = new byte[16];
        address[10] = (byte) 0xFF;
        address[11] = (byte) 0xFF;
        System.arraycopy(ipv4, 0, address, 12, 4);
        return address;
    }

    /** Each 32-bit word as the kernel prints it: an int in host byte order. */
    private static String hex(byte[] address) {
        StringBuilder text = new StringBuilder(32);
        ByteBuffer words = ByteBuffer.wrap(address).order(ByteOrder.nativeOrder());
        while (words.hasRemaining()) {
            text.append(String.format("%08X", words.getInt()));
        }
        return text.toString();
    }
}
