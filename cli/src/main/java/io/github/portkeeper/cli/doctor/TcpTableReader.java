package io.github.portkeeper.cli.doctor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Streams {@code /proc/net/tcp} and {@code /proc/net/tcp6} through one 64 KiB buffer into
 * {@link SocketRows}, keeping the columns the doctor needs: both endpoints, the state and the
 * socket inode (which links a socket to the process holding it). The whole file is never held in
 * memory: on a host with 100,000 sockets the tables are about 15 MB of text.
 *
 * <p>Each address word is printed by the kernel as a native-order integer; {@code littleEndian}
 * says how to turn it back into network order.
 */
final class TcpTableReader {

    private static final int BUFFER = 64 * 1024;
    private static final int INODE_COLUMN = 9; // sl local rem st tx:rx tr:when retrnsmt uid timeout inode

    private final boolean littleEndian;
    private final byte[] buffer = new byte[BUFFER];

    TcpTableReader() {
        this(ByteOrder.nativeOrder());
    }

    TcpTableReader(ByteOrder hostOrder) {
        this.littleEndian = hostOrder == ByteOrder.LITTLE_ENDIAN;
    }

    /**
     * Reads both tables, one row per connection (see {@link SocketRows#dropRepeatedConnections});
     * an absent file is an empty table. Returns false if neither exists.
     */
    boolean read(Path tcp, Path tcp6, SocketRows into) throws IOException {
        boolean any = readFile(tcp, into);
        any = readFile(tcp6, into) || any;
        into.dropRepeatedConnections();
        return any;
    }

    private boolean readFile(Path file, SocketRows into) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            int filled = 0;
            while (true) {
                int n = in.read(buffer, filled, buffer.length - filled);
                if (n < 0) {
                    if (filled > 0) {
                        parseLine(buffer, 0, filled, into);
                    }
                    return true;
                }
                filled += n;
                int start = 0;
                for (int i = 0; i < filled; i++) {
                    if (buffer[i] == '\n') {
                        parseLine(buffer, start, i, into);
                        start = i + 1;
                    }
                }
                if (start == 0 && filled == buffer.length) {
                    filled = 0; // a line longer than the buffer is not a socket line: drop it
                } else {
                    System.arraycopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                }
            }
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /** Parses one line in {@code [from, to)}; lines that are not socket entries (the header) are skipped. */
    void parseLine(byte[] b, int from, int to, SocketRows into) {
        long lHi = 0;
        long lLo = 0;
        long rHi = 0;
        long rLo = 0;
        int lPort = 0;
        int rPort = 0;
        int state = -1;
        long inode = -1;
        int column = 0;
        int p = from;
        while (p < to && column <= INODE_COLUMN) {
            while (p < to && (b[p] == ' ' || b[p] == '\t' || b[p] == '\r')) {
                p++;
            }
            int start = p;
            while (p < to && b[p] != ' ' && b[p] != '\t' && b[p] != '\r') {
                p++;
            }
            if (start == p) {
                break;
            }
            switch (column) {
                case 0:
                    if (b[p - 1] != ':') {
                        return; // the header line: "sl  local_address ..."
                    }
                    break;
                case 1:
                case 2: {
                    int colon = p - 5;
                    if (colon <= start || b[colon] != ':') {
                        return;
                    }
                    int port = (int) hex(b, colon + 1, p);
                    int width = colon - start;
                    long hi;
                    long lo;
                    if (width == 8) {
                        hi = 0;
                        lo = SocketRows.mappedV4(word(b, start));
                    } else if (width == 32) {
                        hi = ((long) word(b, start) << 32) | (word(b, start + 8) & 0xFFFF_FFFFL);
                        lo = ((long) word(b, start + 16) << 32) | (word(b, start + 24) & 0xFFFF_FFFFL);
                    } else {
                        return;
                    }
                    if (port < 0) {
                        return;
                    }
                    if (column == 1) {
                        lHi = hi;
                        lLo = lo;
                        lPort = port;
                    } else {
                        rHi = hi;
                        rLo = lo;
                        rPort = port;
                    }
                    break;
                }
                case 3:
                    state = (int) hex(b, start, p);
                    break;
                case INODE_COLUMN:
                    inode = decimal(b, start, p);
                    break;
                default:
                    break;
            }
            column++;
        }
        if (state > 0 && inode >= 0) {
            into.add(lHi, lLo, rHi, rLo, lPort, rPort, state, inode);
        }
    }

    private int word(byte[] b, int p) {
        int printed = (int) hex(b, p, p + 8);
        return littleEndian ? Integer.reverseBytes(printed) : printed;
    }

    /** Hex value of {@code [from, to)}, or -1 if a byte is not a hex digit. */
    private static long hex(byte[] b, int from, int to) {
        long v = 0;
        for (int i = from; i < to; i++) {
            int c = b[i];
            int d = c >= '0' && c <= '9' ? c - '0'
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) {
                return -1;
            }
            v = (v << 4) | d;
        }
        return v;
    }

    private static long decimal(byte[] b, int from, int to) {
        long v = 0;
        for (int i = from; i < to; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }
}
