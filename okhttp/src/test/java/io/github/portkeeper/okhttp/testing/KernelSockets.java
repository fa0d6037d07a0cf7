package io.github.portkeeper.okhttp.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kernel as judge: client sockets of this host toward a loopback server port, by state, read
 * from {@code /proc/net/tcp{,6}}. Per socket (the client's local port), so a CLOSE_WAIT can be
 * followed from sample to sample and its age measured.
 */
public final class KernelSockets {

    public static final String TIME_WAIT = "06";
    public static final String CLOSE_WAIT = "08";
    private static final List<Path> TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));

    private KernelSockets() {
    }

    public static void assumeLinux() {
        assumeTrue(Files.isReadable(TABLES.get(0)), "needs /proc/net/tcp (Linux): the kernel is the judge of this test");
    }

    /** Local ports of client sockets in {@code state} whose remote port is {@code serverPort}. */
    public static Set<Integer> clientPorts(int serverPort, String state) {
        Set<Integer> ports = new HashSet<>();
        for (Path table : TABLES) {
            List<String> lines;
            try {
                lines = Files.readAllLines(table);
            } catch (IOException e) {
                continue; // no IPv6 table
            }
            for (int i = 1; i < lines.size(); i++) {
                String[] f = lines.get(i).trim().split("\\s+");
                if (f.length < 4 || !f[3].equals(state)) {
                    continue;
                }
                int remotePort = Integer.parseInt(f[2].substring(f[2].indexOf(':') + 1), 16);
                if (remotePort == serverPort) {
                    ports.add(Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1), 16));
                }
            }
        }
        return ports;
    }

    public static int clientTimeWait(int serverPort) {
        return clientPorts(serverPort, TIME_WAIT).size();
    }
}
