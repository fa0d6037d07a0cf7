package io.github.portkeeper.core.internal;

import static io.github.portkeeper.core.internal.ProcNetTcpParser.MAPPED_PREFIX;
import static io.github.portkeeper.core.internal.ProcNetTcpParser.UNKNOWN_QUEUE;
import static io.github.portkeeper.core.internal.ProcNetTcpParser.WORD;

import java.util.Arrays;

/**
 * The byte-level grammar of {@code /proc/net/tcp{,6}} lines (described on {@link ProcNetTcpParser}):
 * finds the lines, reads their columns and hands each entry to the tables it fills.
 *
 * <p>Why apart: scanning is index arithmetic over bytes with its results in fields (no object
 * per line); the tables it fills ({@link ProcNetTcpEntries}) and the queries on them
 * ({@link ProcNetTcpParser.Sockets}) know nothing of the text and read better without it.
 *
 * <p>Thread-safety: not thread-safe; one per parser.
 */
final class ProcNetTcpLineScanner {

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
    // Kernel lines are 150 bytes (tcp) to 178 (tcp6); sizing from the input avoids regrowth.
    private static final int BYTES_PER_LINE_ESTIMATE = 150;

    private final boolean littleEndian;

    // Results of parseEndpoint: fields, because allocating a result per line would dominate.
    private long endpointHi;
    private long endpointLo;
    private int endpointPort;
    private boolean endpointIsV4;
    private int endpointWidth;

    /** A scanner for tables written by a little-endian host, or a big-endian one. */
    ProcNetTcpLineScanner(boolean littleEndian) {
        this.littleEndian = littleEndian;
    }

    /**
     * Scans a range of a table, adding its entries to {@code into}; a line cut by the range is
     * skipped.
     *
     * @return how many non-empty lines were not entries (a header, garbage)
     */
    int scan(byte[] data, int offset, int length, ProcNetTcpEntries into) {
        int skipped = 0;
        int estimate = length / BYTES_PER_LINE_ESTIMATE + 1;
        int end = offset + length;
        int p = offset;
        while (p < end) {
            int q = skipBlanks(data, p, end);
            if (q == end || data[q] == '\n') { // an empty line is not a malformed one
                p = q + 1;
                continue;
            }
            int stop = parseLine(data, q, end, into, estimate);
            if (stop < 0) {
                skipped++;
                stop = ~stop;
            }
            while (stop < end && data[stop] != '\n') {
                stop++;
            }
            p = stop + 1;
        }
        return skipped;
    }

    /**
     * Parses one line whose first non-blank byte is at {@code p}.
     *
     * @return the index just past the last column read, or {@code ~index} where the line went wrong
     */
    private int parseLine(byte[] data, int p, int end, ProcNetTcpEntries into, int estimate) {
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
        add(into, (high << 4) | low, localHi, localLo, localPort, rxQueue, estimate);
        return rxQueue == UNKNOWN_QUEUE ? p : q + QUEUES_WIDTH;
    }

    /**
     * Adds the entry whose remote endpoint is in the endpoint fields. The remote decides the
     * family: a connected socket's two addresses are of one family (a mapped remote has a mapped
     * local address, of which the IPv4 word is kept).
     */
    private void add(ProcNetTcpEntries into, int state, long localHi, long localLo, int localPort, int rxQueue,
            int estimate) {
        if (endpointIsV4) {
            into.addV4(state, endpointLo, endpointPort, localLo, localPort, rxQueue, estimate);
        } else {
            into.addV6(state, endpointHi, endpointLo, endpointPort, localHi, localLo, localPort, rxQueue, estimate);
        }
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
}
