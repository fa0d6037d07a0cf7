package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Objects;

/**
 * Parses the socket tables of Linux, {@code /proc/net/tcp} and {@code /proc/net/tcp6}, straight
 * from their bytes.
 *
 * <p>Each entry line looks like
 * <pre>  0: 0100007F:1F90 0100007F:C350 06 00000000:00000000 03:00000F2B 00000000 0 0 0 3 0 ...</pre>
 * An address is 8 hex digits (IPv4) or 32 (IPv6): each group of 8 is a 32-bit word printed in
 * the host's byte order, so {@code 0100007F} is 127.0.0.1 on a little-endian host. A port is 4
 * hex digits, big-endian. The state is 2 hex digits. The column after it is
 * {@code tx_queue:rx_queue}, two 8-digit hex counts, of which the receive queue is kept (bytes
 * arrived and not read by the application; the kernel counts a peer's FIN that arrived as one
 * more): a line without it still counts, its receive queue unknown. Later columns are not read.
 *
 * <p>Lines that do not have this shape (the header, truncated or garbled lines) are skipped and
 * counted, never fatal: the probe is a diagnostic and must not take its caller down. The family
 * is taken from the address width, not from the file name, and IPv4-mapped IPv6 addresses
 * ({@code ::ffff:a.b.c.d}, which every dual-stack Java socket shows) are stored as IPv4.
 *
 * <p>Only what the queries need is kept: state, the 4-tuple (local address and port, remote
 * address and port), receive queue. IPv4 entries take 17 bytes, IPv6 entries 41, in parallel
 * primitive arrays, filled without an object per line.
 *
 * <p>Thread-safety: not thread-safe; use one instance per read. The {@link Sockets} it produces
 * are immutable and safe to share.
 */
public final class ProcNetTcpParser {

    private static final byte[] HEX_VALUE = new byte[256];

    static {
        Arrays.fill(HEX_VALUE, (byte) -1);
        for (int c = '0'; c <= '9'; c++) {
            HEX_VALUE[c] = (byte) (c - '0');
        }
        for (int c = 'a'; c <= 'f'; c++) {
            HEX_VALUE[c] = (byte) (c - 'a' + 10);
            HEX_VALUE[c - 'a' + 'A'] = (byte) (c - 'a' + 10);
        }
    }

    private static final int IPV4_HEX_DIGITS = 8;
    private static final int IPV6_HEX_DIGITS = 32;
    private static final int PORT_HEX_DIGITS = 4;
    private static final int QUEUE_HEX_DIGITS = 8;
    private static final int QUEUES_WIDTH = 2 * QUEUE_HEX_DIGITS + 1; // tx_queue:rx_queue
    /** A receive queue the line did not show. */
    public static final int UNKNOWN_QUEUE = -1;
    private static final long MAPPED_PREFIX = 0x0000_FFFFL; // upper word of ::ffff:a.b.c.d's low half
    private static final long WORD = 0xFFFF_FFFFL;
    private static final long MIX = 0x9E37_79B9_7F4A_7C15L; // odd, for hashing an address into a key
    // Kernel lines are 150 bytes (tcp) to 178 (tcp6); sizing from the input avoids regrowth.
    private static final int BYTES_PER_LINE_ESTIMATE = 150;

    private final boolean littleEndian;

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

    private int skippedLines;

    // Results of parseEndpoint: fields, because allocating a result per line would dominate.
    private long endpointHi;
    private long endpointLo;
    private int endpointPort;
    private boolean endpointIsV4;
    private int endpointWidth;

    /** Creates a parser for tables written by this machine's kernel (native byte order). */
    public ProcNetTcpParser() {
        this(ByteOrder.nativeOrder());
    }

    /** Creates a parser for tables written by a host of the given byte order (tests pin it). */
    public ProcNetTcpParser(ByteOrder hostOrder) {
        this.littleEndian = Objects.requireNonNull(hostOrder, "hostOrder") == ByteOrder.LITTLE_ENDIAN;
    }

    /** This process's network namespace's IPv4 table. */
    public static final Path PROC_NET_TCP = Path.of("/proc/net/tcp");
    /** This process's network namespace's IPv6 table (IPv4-mapped entries included). */
    public static final Path PROC_NET_TCP6 = Path.of("/proc/net/tcp6");

    /**
     * Reads and parses two tables written by this machine's kernel, each with one bulk read; an
     * absent file counts as an empty table.
     *
     * @return the sockets, or {@code null} if neither file exists
     * @throws UncheckedIOException if a file exists but cannot be read
     */
    public static Sockets read(Path tcp, Path tcp6) {
        ProcNetTcpParser parser = new ProcNetTcpParser(); // the kernel writes in native byte order
        boolean read = readInto(tcp, parser);
        read |= readInto(tcp6, parser);
        return read ? parser.toSockets() : null;
    }

    /** Parses {@code file} into {@code parser}; returns false if it does not exist. */
    private static boolean readInto(Path file, ProcNetTcpParser parser) {
        byte[] data;
        try {
            // /proc files report size 0; readAllBytes reads to end of file regardless.
            data = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
        parser.parse(data);
        return true;
    }

    /** Parses whole tables written by this machine's kernel, e.g. {@code tcp} and {@code tcp6}. */
    public static Sockets parseAll(byte[]... tables) {
        ProcNetTcpParser parser = new ProcNetTcpParser();
        for (byte[] table : tables) {
            parser.parse(table);
        }
        return parser.toSockets();
    }

    /** Parses a whole table, adding its entries to those already parsed. */
    public ProcNetTcpParser parse(byte[] data) {
        return parse(data, 0, data.length);
    }

    /** Parses a range of a table, adding its entries; a line cut by the range is skipped. */
    public ProcNetTcpParser parse(byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        int estimate = length / BYTES_PER_LINE_ESTIMATE + 1;
        int end = offset + length;
        int p = offset;
        while (p < end) {
            int q = skipBlanks(data, p, end);
            if (q == end || data[q] == '\n') { // an empty line is not a malformed one
                p = q + 1;
                continue;
            }
            int stop = parseLine(data, q, end, estimate);
            if (stop < 0) {
                skippedLines++;
                stop = ~stop;
            }
            while (stop < end && data[stop] != '\n') {
                stop++;
            }
            p = stop + 1;
        }
        return this;
    }

    /** Returns how many non-empty lines were not entries: each table's header, plus garbage. */
    public int skippedLines() {
        return skippedLines;
    }

    /**
     * Returns an immutable copy of the entries parsed so far, each connected socket once. The
     * kernel serves these tables a page at a time and resumes by position, so while sockets come
     * and go a socket can be listed twice; only the last listing of the same 4-tuple (local
     * address and port, remote address and port) is kept, as it shows the newer state
     * (ESTABLISHED, then TIME_WAIT). Listening sockets, with no remote, are kept as listed.
     */
    public Sockets toSockets() {
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
        return new Sockets(Arrays.copyOfRange(keys, from4, v4Count), Arrays.copyOfRange(locals, from4, v4Count),
                Arrays.copyOfRange(states, from4, v4Count), Arrays.copyOfRange(rx, from4, v4Count),
                Arrays.copyOfRange(hi, from6, v6Count), Arrays.copyOfRange(lo, from6, v6Count),
                Arrays.copyOfRange(localHi, from6, v6Count), Arrays.copyOfRange(localLo, from6, v6Count),
                Arrays.copyOfRange(ports, from6, v6Count), Arrays.copyOfRange(states6, from6, v6Count),
                Arrays.copyOfRange(rx6, from6, v6Count));
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

    /**
     * Parses one line whose first non-blank byte is at {@code p}.
     *
     * @return the index just past the last column read, or {@code ~index} where the line went wrong
     */
    private int parseLine(byte[] data, int p, int end, int estimate) {
        // "sl" column: a decimal slot number and a colon. The header line fails here.
        int q = p;
        while (q < end && data[q] >= '0' && data[q] <= '9') {
            q++;
        }
        if (q == p || q >= end || data[q] != ':') {
            return ~q;
        }
        p = q + 1;
        q = skipBlanks(data, p, end);
        if (q == p) {
            return ~q;
        }
        p = parseEndpoint(data, q, end);
        if (p < 0) {
            return p;
        }
        int localPort = endpointPort;
        int localWidth = endpointWidth;
        long localHi = endpointHi; // as printed: an IPv4-mapped address is kept mapped here
        long localLo = endpointLo;
        q = skipBlanks(data, p, end);
        if (q == p) {
            return ~q;
        }
        p = parseEndpoint(data, q, end);
        if (p < 0) {
            return p;
        }
        if (endpointWidth != localWidth) { // tcp and tcp6 lines never mix widths
            return ~q;
        }
        q = skipBlanks(data, p, end);
        if (q == p || q + 2 > end) {
            return ~q;
        }
        int high = HEX_VALUE[data[q] & 0xFF];
        int low = HEX_VALUE[data[q + 1] & 0xFF];
        p = q + 2;
        if ((high | low) < 0 || !endsToken(data, p, end)) {
            return ~q;
        }
        q = skipBlanks(data, p, end);
        int rxQueue = q == p ? UNKNOWN_QUEUE : parseRxQueue(data, q, end);
        add((high << 4) | low, localHi, localLo, localPort, rxQueue, estimate);
        return rxQueue == UNKNOWN_QUEUE ? p : q + QUEUES_WIDTH;
    }

    /** Reads {@code tx_queue:rx_queue} at {@code p}: the receive queue, or UNKNOWN_QUEUE if not that shape. */
    private static int parseRxQueue(byte[] data, int p, int end) {
        int after = p + QUEUES_WIDTH;
        if (after > end || data[p + QUEUE_HEX_DIGITS] != ':' || !endsToken(data, after, end)
                || hex(data, p, QUEUE_HEX_DIGITS) < 0) {
            return UNKNOWN_QUEUE;
        }
        long rx = hex(data, p + QUEUE_HEX_DIGITS + 1, QUEUE_HEX_DIGITS);
        return rx < 0 ? UNKNOWN_QUEUE : (int) Math.min(rx, Integer.MAX_VALUE);
    }

    /**
     * Parses {@code ADDRESS:PORT} at {@code p} into the endpoint fields.
     *
     * @return the index just past the port, or {@code ~index} where it went wrong
     */
    private int parseEndpoint(byte[] data, int p, int end) {
        int colon = p;
        while (colon < end && HEX_VALUE[data[colon] & 0xFF] >= 0) {
            colon++;
        }
        int width = colon - p;
        int after = colon + 1 + PORT_HEX_DIGITS;
        if (colon >= end || data[colon] != ':' || after > end || !endsToken(data, after, end)) {
            return ~colon;
        }
        long port = hex(data, colon + 1, PORT_HEX_DIGITS);
        if (port < 0) {
            return ~colon;
        }
        if (width == IPV4_HEX_DIGITS) {
            endpointIsV4 = true;
            endpointHi = 0;
            endpointLo = word(data, p) & WORD;
        } else if (width == IPV6_HEX_DIGITS) {
            long w0 = word(data, p);
            long w1 = word(data, p + 8);
            long w2 = word(data, p + 16);
            long w3 = word(data, p + 24);
            endpointHi = (w0 << 32) | (w1 & WORD);
            endpointLo = (w2 << 32) | (w3 & WORD);
            endpointIsV4 = endpointHi == 0 && (endpointLo >>> 32) == MAPPED_PREFIX;
            if (endpointIsV4) {
                endpointLo &= WORD;
            }
        } else {
            return ~p;
        }
        endpointPort = (int) port;
        endpointWidth = width;
        return after;
    }

    /** Reads 8 hex digits known to be valid as one address word, in network byte order. */
    private int word(byte[] data, int p) {
        int printed = (int) hex(data, p, 8);
        return littleEndian ? Integer.reverseBytes(printed) : printed;
    }

    /**
     * Adds the entry whose remote endpoint is in the endpoint fields. The remote decides the
     * family: a connected socket's two addresses are of one family (a mapped remote has a mapped
     * local address, of which the IPv4 word is kept).
     */
    private void add(int state, long localHi, long localLo, int localPort, int rxQueue, int estimate) {
        if (endpointIsV4) {
            if (v4Count == v4Keys.length) {
                int capacity = Math.max(v4Count * 2, estimate);
                v4Keys = Arrays.copyOf(v4Keys, capacity);
                v4Locals = Arrays.copyOf(v4Locals, capacity);
                v4States = Arrays.copyOf(v4States, capacity);
                v4RxQueues = Arrays.copyOf(v4RxQueues, capacity);
            }
            v4Keys[v4Count] = (endpointLo << 32) | ((long) endpointPort << 16) | localPort;
            v4Locals[v4Count] = (int) localLo;
            v4RxQueues[v4Count] = rxQueue;
            v4States[v4Count++] = (byte) state;
        } else {
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
            v6RemoteHi[v6Count] = endpointHi;
            v6RemoteLo[v6Count] = endpointLo;
            v6LocalHi[v6Count] = localHi;
            v6LocalLo[v6Count] = localLo;
            v6Ports[v6Count] = (endpointPort << 16) | localPort;
            v6States[v6Count++] = (byte) state;
        }
    }

    /** Returns the value of {@code digits} hex digits at {@code p}, or -1 if one is not hex. */
    private static long hex(byte[] data, int p, int digits) {
        long value = 0;
        int invalid = 0;
        for (int i = p; i < p + digits; i++) {
            int digit = HEX_VALUE[data[i] & 0xFF];
            invalid |= digit; // -1 sets the sign bit; checked once, after the loop
            value = (value << 4) | (digit & 0xF);
        }
        return invalid < 0 ? -1 : value;
    }

    private static int skipBlanks(byte[] data, int p, int end) {
        while (p < end && isBlank(data[p])) {
            p++;
        }
        return p;
    }

    private static boolean endsToken(byte[] data, int p, int end) {
        return p == end || data[p] == '\n' || isBlank(data[p]);
    }

    private static boolean isBlank(byte b) {
        return b == ' ' || b == '\t' || b == '\r';
    }

    /**
     * Sockets parsed from the kernel's tables, stored in parallel primitive arrays and queried by
     * linear scans (a scan of 100,000 entries costs well under a millisecond).
     *
     * <p>Addresses are in network byte order: an IPv4 address as an {@code int}
     * ({@code 127.0.0.1} is {@code 0x7F000001}), an IPv6 address as two {@code long}s (high and
     * low 64 bits). IPv4-mapped IPv6 addresses were stored as IPv4. States are the kernel's codes.
     * An entry is an index: the IPv4 sockets first, from 0, then the IPv6 ones.
     *
     * <p>Thread-safety: immutable, safe to share.
     */
    public static final class Sockets {
        private final long[] v4Keys;
        private final int[] v4Locals;
        private final byte[] v4States;
        private final int[] v4RxQueues;
        private final long[] v6RemoteHi;
        private final long[] v6RemoteLo;
        private final long[] v6LocalHi;
        private final long[] v6LocalLo;
        private final int[] v6Ports;
        private final byte[] v6States;
        private final int[] v6RxQueues;

        private Sockets(long[] v4Keys, int[] v4Locals, byte[] v4States, int[] v4RxQueues, long[] v6RemoteHi,
                long[] v6RemoteLo, long[] v6LocalHi, long[] v6LocalLo, int[] v6Ports, byte[] v6States,
                int[] v6RxQueues) {
            this.v4Keys = v4Keys;
            this.v4Locals = v4Locals;
            this.v4States = v4States;
            this.v4RxQueues = v4RxQueues;
            this.v6RemoteHi = v6RemoteHi;
            this.v6RemoteLo = v6RemoteLo;
            this.v6LocalHi = v6LocalHi;
            this.v6LocalLo = v6LocalLo;
            this.v6Ports = v6Ports;
            this.v6States = v6States;
            this.v6RxQueues = v6RxQueues;
        }

        /** Returns the number of sockets, IPv4 plus IPv6. */
        public int size() {
            return v4States.length + v6States.length;
        }

        /** Returns the number of sockets with an IPv4 (or IPv4-mapped) remote address. */
        public int ipv4Count() {
            return v4States.length;
        }

        /** Returns the number of sockets with a (not IPv4-mapped) IPv6 remote address. */
        public int ipv6Count() {
            return v6States.length;
        }

        /** Returns a new array of 256 socket counts indexed by state code. */
        public int[] countsByStateCode() {
            int[] counts = new int[256];
            for (byte state : v4States) {
                counts[state & 0xFF]++;
            }
            for (byte state : v6States) {
                counts[state & 0xFF]++;
            }
            return counts;
        }

        /** Returns the search key of an IPv4 remote endpoint for {@link #countToRemotesV4}. */
        public static long ipv4RemoteKey(int address, int port) {
            return ((address & WORD) << 16) | (port & 0xFFFF);
        }

        /** Counts sockets in a state whose remote endpoint is this IPv4 address and port. */
        public int countToRemoteV4(int state, int address, int port) {
            long key = ipv4RemoteKey(address, port);
            byte wanted = (byte) state;
            int count = 0;
            for (int i = 0; i < v4Keys.length; i++) {
                if (v4States[i] == wanted && (v4Keys[i] >>> 16) == key) {
                    count++;
                }
            }
            return count;
        }

        /** Counts sockets in a state toward any endpoint of sorted {@link #ipv4RemoteKey}s. */
        public int countToRemotesV4(int state, long[] sortedKeys) {
            byte wanted = (byte) state;
            int count = 0;
            for (int i = 0; i < v4Keys.length; i++) {
                if (v4States[i] == wanted && Arrays.binarySearch(sortedKeys, v4Keys[i] >>> 16) >= 0) {
                    count++;
                }
            }
            return count;
        }

        /** Counts sockets in a state whose remote endpoint is this IPv6 address and port. */
        public int countToRemoteV6(int state, long addressHi, long addressLo, int port) {
            byte wanted = (byte) state;
            int count = 0;
            for (int i = 0; i < v6States.length; i++) {
                if (v6States[i] == wanted && v6RemoteLo[i] == addressLo && v6RemoteHi[i] == addressHi
                        && (v6Ports[i] >>> 16) == port) {
                    count++;
                }
            }
            return count;
        }

        /**
         * Adds to {@code into} the local ports of sockets in a state toward this IPv4 endpoint
         * (sockets on one port of two local addresses add it twice).
         */
        public void localPortsToRemoteV4(int state, int address, int port, Collection<Integer> into) {
            long key = ipv4RemoteKey(address, port);
            byte wanted = (byte) state;
            for (int i = 0; i < v4Keys.length; i++) {
                if (v4States[i] == wanted && (v4Keys[i] >>> 16) == key) {
                    into.add((int) (v4Keys[i] & 0xFFFF));
                }
            }
        }

        /** Adds to {@code into} the local ports of sockets in a state toward this IPv6 endpoint. */
        public void localPortsToRemoteV6(int state, long addressHi, long addressLo, int port, Collection<Integer> into) {
            byte wanted = (byte) state;
            for (int i = 0; i < v6States.length; i++) {
                if (v6States[i] == wanted && v6RemoteLo[i] == addressLo && v6RemoteHi[i] == addressHi
                        && (v6Ports[i] >>> 16) == port) {
                    into.add(v6Ports[i] & 0xFFFF);
                }
            }
        }

        /**
         * Returns the entry of the socket with this 4-tuple, or -1 if there is none. Each 4-tuple
         * is listed once; an IPv4-mapped address of either end matches as IPv4.
         *
         * @throws IllegalArgumentException if either address is unresolved
         */
        public int entry(InetSocketAddress local, InetSocketAddress remote) {
            long[] l = words(local, "local");
            long[] r = words(remote, "remote");
            int localPort = local.getPort();
            int port = remote.getPort();
            if (l[0] == IPV4 && r[0] == IPV4) {
                return entryV4((int) l[2], localPort, (int) r[2], port);
            }
            if (l[0] == IPV4 || r[0] == IPV4) {
                return -1; // a connected socket's two ends are of one family
            }
            return entryV6(l[1], l[2], localPort, r[1], r[2], port);
        }

        /** Returns the entry of the IPv4 socket with this 4-tuple, or -1 if there is none. */
        public int entryV4(int localAddress, int localPort, int address, int port) {
            long key = (ipv4RemoteKey(address, port) << 16) | (localPort & 0xFFFF);
            for (int i = 0; i < v4Keys.length; i++) {
                if (v4Keys[i] == key && v4Locals[i] == localAddress) {
                    return i;
                }
            }
            return -1;
        }

        /** Returns the entry of the IPv6 socket with this 4-tuple, or -1 if there is none. */
        public int entryV6(long localHi, long localLo, int localPort, long addressHi, long addressLo, int port) {
            int ports = (port << 16) | (localPort & 0xFFFF);
            for (int i = 0; i < v6States.length; i++) {
                if (v6Ports[i] == ports && v6RemoteLo[i] == addressLo && v6RemoteHi[i] == addressHi
                        && v6LocalLo[i] == localLo && v6LocalHi[i] == localHi) {
                    return v4States.length + i;
                }
            }
            return -1;
        }

        private static final long IPV4 = 4;
        private static final long IPV6 = 6;

        /** {family, high 64 bits, low 64 bits} of an address; IPv4 and IPv4-mapped in the low 32. */
        private static long[] words(InetSocketAddress address, String which) {
            Objects.requireNonNull(address, which + " address");
            if (address.isUnresolved()) {
                throw new IllegalArgumentException(
                        which + " address must be resolved, but was unresolved: " + address);
            }
            InetAddress ip = address.getAddress();
            ByteBuffer bytes = ByteBuffer.wrap(ip.getAddress()); // network byte order
            if (bytes.remaining() == 4) {
                return new long[] {IPV4, 0, bytes.getInt() & WORD};
            }
            long hi = bytes.getLong();
            long lo = bytes.getLong();
            if (hi == 0 && (lo >>> 32) == MAPPED_PREFIX) {
                return new long[] {IPV4, 0, lo & WORD};
            }
            return new long[] {IPV6, hi, lo};
        }

        /** Returns the state code of an entry. */
        public int stateAt(int entry) {
            int v6 = entry - v4States.length;
            return (v6 < 0 ? v4States[entry] : v6States[v6]) & 0xFF;
        }

        /**
         * Returns the receive queue of an entry as the kernel printed it (a peer's FIN that
         * arrived counts one), or {@link ProcNetTcpParser#UNKNOWN_QUEUE} if its line did not show it.
         */
        public int receiveQueueAt(int entry) {
            int v6 = entry - v4States.length;
            return v6 < 0 ? v4RxQueues[entry] : v6RxQueues[v6];
        }

        /**
         * Returns the bytes of an entry that arrived and were not read: its receive queue less the
         * one the kernel counts for a peer's FIN that arrived (CLOSE_WAIT, LAST_ACK, CLOSING), or
         * {@link ProcNetTcpParser#UNKNOWN_QUEUE} if its line did not show the queue.
         */
        public int unreadBytesAt(int entry) {
            int queue = receiveQueueAt(entry);
            if (queue == UNKNOWN_QUEUE) {
                return UNKNOWN_QUEUE;
            }
            int state = stateAt(entry);
            boolean finArrived = state == TcpState.CLOSE_WAIT.code() || state == TcpState.LAST_ACK.code()
                    || state == TcpState.CLOSING.code();
            return finArrived ? Math.max(0, queue - 1) : queue;
        }

        /** Counts sockets in a state whose local port is this port, whatever the family. */
        public int countOnLocalPort(int state, int port) {
            byte wanted = (byte) state;
            int count = 0;
            for (int i = 0; i < v4Keys.length; i++) {
                if (v4States[i] == wanted && (int) (v4Keys[i] & 0xFFFF) == port) {
                    count++;
                }
            }
            for (int i = 0; i < v6Ports.length; i++) {
                if (v6States[i] == wanted && (v6Ports[i] & 0xFFFF) == port) {
                    count++;
                }
            }
            return count;
        }
    }
}
