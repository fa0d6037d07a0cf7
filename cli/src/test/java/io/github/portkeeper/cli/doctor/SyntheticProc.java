package io.github.portkeeper.cli.doctor;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Writes a synthetic {@code /proc} below a directory: socket tables in the kernel's format (this
 * machine's byte order), sysctls, counters and processes whose descriptors link to socket inodes.
 */
final class SyntheticProc implements AutoCloseable {

    private final Path proc;
    private final BufferedWriter tcp;
    private int slot;

    SyntheticProc(Path root) throws IOException {
        this.proc = root.resolve("proc");
        Files.createDirectories(proc.resolve("net"));
        Files.createDirectories(proc.resolve("sys/net/ipv4"));
        Files.createDirectories(proc.resolve("sys/kernel"));
        Files.writeString(proc.resolve("sys/kernel/osrelease"), "6.1.0-synthetic\n");
        sysctl("ip_local_port_range", "32768\t60999");
        sysctl("tcp_tw_reuse", "2");
        sysctl("tcp_fin_timeout", "60");
        sysctl("tcp_max_tw_buckets", "262144");
        sysctl("tcp_timestamps", "1");
        Files.writeString(proc.resolve("net/snmp"), "Tcp: RtoAlgorithm ActiveOpens PassiveOpens\nTcp: 1 1000 20\n");
        Files.writeString(proc.resolve("net/netstat"), "TcpExt: SyncookiesSent TW TWKilled\nTcpExt: 0 500 0\n");
        tcp = Files.newBufferedWriter(proc.resolve("net/tcp"), StandardCharsets.US_ASCII);
        tcp.write("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    }

    void sysctl(String name, String value) throws IOException {
        Files.writeString(proc.resolve("sys/net/ipv4/" + name), value + "\n");
    }

    /** Adds an IPv4 socket; addresses as dotted quads. */
    void socket(String local, int localPort, String remote, int remotePort, int state, long inode) throws IOException {
        tcp.write(String.format(Locale.ROOT,
                "%4d: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000  1000        0 %d 1 0000000000000000 20 4 30 10 -1%n",
                slot++, word(local), localPort, word(remote), remotePort, state, inode));
    }

    /** Gives {@code pid} a command line and descriptors linking to the socket inodes. */
    void process(int pid, String command, long... inodes) throws IOException {
        process(pid, 1, command, inodes);
    }

    /**
     * Gives {@code pid} a start time (field 22 of its {@code stat}, in clock ticks since boot), a
     * command line and descriptors linking to the socket inodes, replacing any it had: a new
     * start time is a new process under a reused pid.
     */
    void process(int pid, long startTime, String command, long... inodes) throws IOException {
        Path dir = proc.resolve(Integer.toString(pid));
        Files.createDirectories(dir.resolve("fd"));
        try (var old = Files.list(dir.resolve("fd"))) {
            for (Path link : (Iterable<Path>) old::iterator) {
                Files.delete(link);
            }
        }
        Files.writeString(dir.resolve("cmdline"), command.replace(' ', '\0') + "\0");
        String name = command.split(" ")[0];
        StringBuilder stat = new StringBuilder(pid + " (" + name + ") S");
        for (int field = 4; field <= 52; field++) {
            stat.append(' ').append(field == 22 ? startTime : 0);
        }
        Files.writeString(dir.resolve("stat"), stat.append('\n').toString());
        int fd = 3;
        for (long inode : inodes) {
            Files.createSymbolicLink(dir.resolve("fd/" + fd++), Path.of("socket:[" + inode + "]"));
        }
    }

    /** The address as the kernel prints it: a native-order 32-bit word in hex. */
    static String word(String dotted) {
        String[] p = dotted.split("\\.");
        int network = (Integer.parseInt(p[0]) << 24) | (Integer.parseInt(p[1]) << 16)
                | (Integer.parseInt(p[2]) << 8) | Integer.parseInt(p[3]);
        int printed = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? Integer.reverseBytes(network) : network;
        return String.format(Locale.ROOT, "%08X", printed);
    }

    @Override
    public void close() throws IOException {
        tcp.close();
    }
}
