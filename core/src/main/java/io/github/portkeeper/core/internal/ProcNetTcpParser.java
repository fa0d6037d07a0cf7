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

    /** A receive queue the line did not show. */
    public static final int UNKNOWN_QUEUE = -1;
    static final long MAPPED_PREFIX = 0x0000_FFFFL; // upper word of ::ffff:a.b.c.d's low half
    static final long WORD = 0xFFFF_FFFFL;

    // The text's grammar, then the tables it fills: see each for why they are apart.
    private final ProcNetTcpLineScanner scanner;
    private final ProcNetTcpEntries entries = new ProcNetTcpEntries();
    private int skippedLines;

    /** Creates a parser for tables written by this machine's kernel (native byte order). */
    public ProcNetTcpParser() {
        this(ByteOrder.nativeOrder());
    }

    /** Creates a parser for tables written by a host of the given byte order (tests pin it). */
    public ProcNetTcpParser(ByteOrder hostOrder) {
        this.scanner = new ProcNetTcpLineScanner(
                Objects.requireNonNull(hostOrder, "hostOrder") == ByteOrder.LITTLE_ENDIAN);
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
        skippedLines += scanner.scan(data, offset, length, entries);
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
        return entries.toSockets();
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

        Sockets(long[] v4Keys, int[] v4Locals, byte[] v4States, int[] v4RxQueues, long[] v6RemoteHi,
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
