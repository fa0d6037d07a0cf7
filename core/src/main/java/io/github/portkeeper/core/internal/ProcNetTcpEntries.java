package io.github.portkeeper.core.internal;

import java.util.Arrays;

/**
 * The entries parsed so far, per family, in growable parallel primitive arrays, and their
 * copy into an immutable {@link ProcNetTcpParser.Sockets} with each 4-tuple listed once.
 *
 * <p>Why apart: what is kept per entry, how the arrays grow and how a socket listed twice is
 * told apart are questions of storage, not of the text the scanner reads
 * ({@link ProcNetTcpLineScanner}) nor of the queries made on the result.
 *
 * <p>Thread-safety: not thread-safe; one per parser.
 */
final class ProcNetTcpEntries {

    private static final long MIX = 0x9E37_79B9_7F4A_7C15L; // odd, for hashing an address into a key

    private long[] v4Keys = new long[16]; // remote address << 32 | remote port << 16 | local port
    private int[] v4Locals = new int[16]; // local address
    private byte[] v4States = new byte[16];
    private int[] v4RxQueues = new int[16];
    private int v4Count;

    private long[] v6RemoteHi = new long[4];
    private long[] v6RemoteLo = new long[4];
    private long[] v6LocalHi = new long[4];
    private long[] v6LocalLo = new long[4];
    private int[] v6Ports = new int[4]; // remote port << 16 | local port
    private byte[] v6States = new byte[4];
    private int[] v6RxQueues = new int[4];
    private int v6Count;

    /**
     * Adds an IPv4 (or IPv4-mapped) entry; addresses in the low 32 bits, in network byte order.
     * {@code estimate}: how many entries the input being parsed may hold, for the first growth.
     */
    void addV4(int state, long remote, int remotePort, long local, int localPort, int rxQueue, int estimate) {
        if (v4Count == v4Keys.length) {
            int capacity = Math.max(v4Count * 2, estimate);
            v4Keys = Arrays.copyOf(v4Keys, capacity);
            v4Locals = Arrays.copyOf(v4Locals, capacity);
            v4States = Arrays.copyOf(v4States, capacity);
            v4RxQueues = Arrays.copyOf(v4RxQueues, capacity);
        }
        v4Keys[v4Count] = (remote << 32) | ((long) remotePort << 16) | localPort;
        v4Locals[v4Count] = (int) local;
        v4RxQueues[v4Count] = rxQueue;
        v4States[v4Count++] = (byte) state;
    }

    /** Adds an IPv6 entry, addresses as high and low 64 bits in network byte order. */
    void addV6(int state, long remoteHi, long remoteLo, int remotePort, long localHi, long localLo, int localPort,
            int rxQueue, int estimate) {
        if (v6Count == v6States.length) {
            int capacity = Math.max(v6Count * 2, estimate);
            v6RemoteHi = Arrays.copyOf(v6RemoteHi, capacity);
            v6RemoteLo = Arrays.copyOf(v6RemoteLo, capacity);
            v6LocalHi = Arrays.copyOf(v6LocalHi, capacity);
            v6LocalLo = Arrays.copyOf(v6LocalLo, capacity);
            v6Ports = Arrays.copyOf(v6Ports, capacity);
            v6States = Arrays.copyOf(v6States, capacity);
            v6RxQueues = Arrays.copyOf(v6RxQueues, capacity);
        }
        v6RxQueues[v6Count] = rxQueue;
        v6RemoteHi[v6Count] = remoteHi;
        v6RemoteLo[v6Count] = remoteLo;
        v6LocalHi[v6Count] = localHi;
        v6LocalLo[v6Count] = localLo;
        v6Ports[v6Count] = (remotePort << 16) | localPort;
        v6States[v6Count++] = (byte) state;
    }

    /** As {@link ProcNetTcpParser#toSockets()}: the last listing of each 4-tuple, in the kernel's order. */
    ProcNetTcpParser.Sockets toSockets() {
        // Walked from the end, so the first listing met is the last one printed; filled from the
        // end, so the entries keep the kernel's order.
        long[] keys = new long[v4Count];
        int[] locals = new int[v4Count];
        byte[] states = new byte[v4Count];
        int[] rx = new int[v4Count];
        int from4 = v4Count;
        LongIndex seen4 = new LongIndex(v4Count);
        for (int i = v4Count - 1; i >= 0; i--) {
            long key = v4Keys[i];
            boolean connected = ((key >>> 16) & 0xffff) != 0;
            long mixed = key ^ (v4Locals[i] * MIX);
            if (!connected || seen4.add(mixed, i, (a, b) -> v4Keys[a] == v4Keys[b] && v4Locals[a] == v4Locals[b])) {
                keys[--from4] = key;
                locals[from4] = v4Locals[i];
                states[from4] = v4States[i];
                rx[from4] = v4RxQueues[i];
            }
        }
        long[] hi = new long[v6Count];
        long[] lo = new long[v6Count];
        long[] localHi = new long[v6Count];
        long[] localLo = new long[v6Count];
        int[] ports = new int[v6Count];
        byte[] states6 = new byte[v6Count];
        int[] rx6 = new int[v6Count];
        int from6 = v6Count;
        LongIndex seen6 = new LongIndex(v6Count);
        for (int i = v6Count - 1; i >= 0; i--) {
            boolean connected = (v6Ports[i] >>> 16) != 0;
            long mixed = v6RemoteHi[i] * MIX ^ v6RemoteLo[i] * 31 ^ v6Ports[i]
                    ^ (v6LocalHi[i] * 0xC2B2_AE3D_27D4_EB4FL + v6LocalLo[i]) * MIX;
            if (!connected || seen6.add(mixed, i, (a, b) -> v6RemoteHi[a] == v6RemoteHi[b]
                    && v6RemoteLo[a] == v6RemoteLo[b] && v6Ports[a] == v6Ports[b]
                    && v6LocalHi[a] == v6LocalHi[b] && v6LocalLo[a] == v6LocalLo[b])) {
                hi[--from6] = v6RemoteHi[i];
                lo[from6] = v6RemoteLo[i];
                localHi[from6] = v6LocalHi[i];
                localLo[from6] = v6LocalLo[i];
                ports[from6] = v6Ports[i];
                states6[from6] = v6States[i];
                rx6[from6] = v6RxQueues[i];
            }
        }
        return new ProcNetTcpParser.Sockets(Arrays.copyOfRange(keys, from4, v4Count),
                Arrays.copyOfRange(locals, from4, v4Count), Arrays.copyOfRange(states, from4, v4Count),
                Arrays.copyOfRange(rx, from4, v4Count), Arrays.copyOfRange(hi, from6, v6Count),
                Arrays.copyOfRange(lo, from6, v6Count), Arrays.copyOfRange(localHi, from6, v6Count),
                Arrays.copyOfRange(localLo, from6, v6Count), Arrays.copyOfRange(ports, from6, v6Count),
                Arrays.copyOfRange(states6, from6, v6Count), Arrays.copyOfRange(rx6, from6, v6Count));
    }

    /** Open-addressing set of entry indices by a 64-bit hash, with an exact comparison on collision. */
    private static final class LongIndex {
        interface Same {
            boolean test(int a, int b);
        }

        private final int[] slots;
        private final long[] hashes;
        private final int mask;

        LongIndex(int expected) {
            int capacity = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
            slots = new int[capacity];
            hashes = new long[capacity];
            Arrays.fill(slots, -1);
            mask = capacity - 1;
        }

        /** Adds index {@code i}; false if an equal entry was added before. */
        boolean add(long hash, int i, Same same) {
            int h = (int) (hash ^ (hash >>> 29) ^ (hash >>> 47)) & mask;
            while (slots[h] >= 0) {
                if (hashes[h] == hash && same.test(slots[h], i)) {
                    return false;
                }
                h = (h + 1) & mask;
            }
            slots[h] = i;
            hashes[h] = hash;
            return true;
        }
    }
}
