package io.github.portkeeper.cli.doctor;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * One read of the kernel's TCP tables, kept as parallel primitive columns (about 45 bytes a
 * socket, so 100,000 sockets take under 5 MB) rather than an object per socket.
 *
 * <p>Addresses are in network byte order as two longs; an IPv4 address is stored in its
 * IPv4-mapped IPv6 form ({@code ::ffff:a.b.c.d}), so sockets of both tables compare alike.
 */
final class SocketRows {

    static final int ESTABLISHED = 0x01;
    static final int SYN_SENT = 0x02;
    static final int TIME_WAIT = 0x06;
    static final int CLOSE_WAIT = 0x08;
    static final int LISTEN = 0x0A;

    private static final long MAPPED = 0x0000_FFFFL;

    int size;
    long[] localHi = new long[64];
    long[] localLo = new long[64];
    long[] remoteHi = new long[64];
    long[] remoteLo = new long[64];
    /** Local port in the high 16 bits, remote port in the low 16. */
    int[] ports = new int[64];
    byte[] states = new byte[64];
    long[] inodes = new long[64];

    void add(long lHi, long lLo, long rHi, long rLo, int localPort, int remotePort, int state, long inode) {
        if (size == states.length) {
            int capacity = size * 2;
            localHi = Arrays.copyOf(localHi, capacity);
            localLo = Arrays.copyOf(localLo, capacity);
            remoteHi = Arrays.copyOf(remoteHi, capacity);
            remoteLo = Arrays.copyOf(remoteLo, capacity);
            ports = Arrays.copyOf(ports, capacity);
            states = Arrays.copyOf(states, capacity);
            inodes = Arrays.copyOf(inodes, capacity);
        }
        localHi[size] = lHi;
        localLo[size] = lLo;
        remoteHi[size] = rHi;
        remoteLo[size] = rLo;
        ports[size] = (localPort << 16) | remotePort;
        states[size] = (byte) state;
        inodes[size] = inode;
        size++;
    }

    int state(int i) {
        return states[i] & 0xFF;
    }

    int localPort(int i) {
        return ports[i] >>> 16;
    }

    int remotePort(int i) {
        return ports[i] & 0xFFFF;
    }

    /**
     * Tells whether socket {@code i} is a server's side of a connection: its local port is listened
     * on, or (for a server that stopped listening, whose TIME_WAIT sockets remain) its local port
     * lies outside the ephemeral range while its remote port lies inside it.
     */
    boolean serverSide(int i, boolean[] listening, int rangeLow, int rangeHigh) {
        int local = localPort(i);
        if (listening[local]) {
            return true;
        }
        int remote = remotePort(i);
        return (local < rangeLow || local > rangeHigh) && remote >= rangeLow && remote <= rangeHigh;
    }

    /**
     * Keeps one row per connection, the last one read. The kernel prints its table a page at a
     * time and finds its place again by counting entries in a hash chain; a socket added to or
     * dropped from a chain between two pages shifts that count, and rows already printed come
     * out again (hundreds of repeats a second on a busy host). A 4-tuple names one connection at
     * any instant, and the later row holds its newer state (ESTABLISHED, then TIME_WAIT). Rows
     * with no remote port (listeners) are left alone: several may share a local address.
     */
    void dropRepeatedConnections() {
        LongIntMap lastRow = new LongIntMap(size);
        int connected = 0;
        for (int i = 0; i < size; i++) {
            if (remotePort(i) != 0) {
                lastRow.put(tupleKey(i), i);
                connected++;
            }
        }
        if (lastRow.size() == connected) {
            return; // no repeats
        }
        int kept = 0;
        for (int i = 0; i < size; i++) {
            if (remotePort(i) == 0 || lastRow.get(tupleKey(i), -1) == i) {
                localHi[kept] = localHi[i];
                localLo[kept] = localLo[i];
                remoteHi[kept] = remoteHi[i];
                remoteLo[kept] = remoteLo[i];
                ports[kept] = ports[i];
                states[kept] = states[i];
                inodes[kept] = inodes[i];
                kept++;
            }
        }
        size = kept;
    }

    /** A 64-bit hash of the socket's 4-tuple: the identity of a connection across reads. */
    long tupleKey(int i) {
        long h = localHi[i] * 0x9E3779B97F4A7C15L;
        h = (h ^ localLo[i]) * 0xC2B2AE3D27D4EB4FL;
        h = (h ^ remoteHi[i]) * 0x9E3779B97F4A7C15L;
        h = (h ^ remoteLo[i]) * 0xC2B2AE3D27D4EB4FL;
        h ^= ports[i];
        return h ^ (h >>> 31);
    }

    /** Formats an address as {@code a.b.c.d:port} or {@code [v6]:port}. */
    static String format(long hi, long lo, int port) {
        if (hi == 0 && (lo >>> 32) == MAPPED) {
            int v4 = (int) lo;
            return (v4 >>> 24) + "." + ((v4 >>> 16) & 0xFF) + "." + ((v4 >>> 8) & 0xFF) + "." + (v4 & 0xFF)
                    + ":" + port;
        }
        byte[] bytes = new byte[16];
        for (int b = 0; b < 8; b++) {
            bytes[b] = (byte) (hi >>> (56 - 8 * b));
            bytes[8 + b] = (byte) (lo >>> (56 - 8 * b));
        }
        try {
            return "[" + InetAddress.getByAddress(bytes).getHostAddress() + "]:" + port;
        } catch (UnknownHostException e) {
            throw new AssertionError("16 bytes are always an address", e);
        }
    }

    /** Returns the stored form of an IPv4 address given in network byte order. */
    static long mappedV4(int address) {
        return (MAPPED << 32) | (address & 0xFFFF_FFFFL);
    }
}
