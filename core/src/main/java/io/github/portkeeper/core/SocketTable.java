package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.ProcNetTcpParser;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * The kernel's TCP sockets at one instant, as read by {@link KernelProbe#snapshot()}, with
 * counts by state and endpoint.
 *
 * <p>Addresses match across families the way the kernel routes them: an IPv4
 * {@link InetSocketAddress} matches both {@code /proc/net/tcp} entries and IPv4-mapped
 * ({@code ::ffff:a.b.c.d}) {@code /proc/net/tcp6} entries, which is how every socket of a
 * dual-stack Java process appears. IPv6 scope ids are ignored: the kernel does not print them.
 *
 * <p>Queries scan the snapshot; on a host with 100,000 sockets each takes well under a
 * millisecond. Take one snapshot and ask it several questions rather than one snapshot per
 * question: successive snapshots may disagree, since sockets change state between them.
 *
 * <p>Thread-safety: immutable, safe to share.
 */
public final class SocketTable {

    private final ProcNetTcpParser.Sockets sockets;
    private final Map<TcpState, Integer> countsByState;

    SocketTable(ProcNetTcpParser.Sockets sockets) {
        this.sockets = sockets;
        int[] byCode = sockets.countsByStateCode();
        Map<TcpState, Integer> counts = new EnumMap<>(TcpState.class);
        for (TcpState state : TcpState.values()) {
            counts.put(state, byCode[state.code()]);
        }
        this.countsByState = Collections.unmodifiableMap(counts);
    }

    /**
     * Counts client-side sockets in a state whose remote endpoint is {@code remote}, e.g. the
     * TIME_WAIT sockets this host left toward a server.
     *
     * @param state the state to count
     * @param remote the remote address and port; must be resolved
     * @return the number of sockets in {@code state} connected to {@code remote}
     * @throws IllegalArgumentException if {@code remote} is unresolved
     */
    public int countToRemote(TcpState state, InetSocketAddress remote) {
        Objects.requireNonNull(state, "state");
        Remote r = Remote.of(remote);
        return r.isV4()
                ? sockets.countToRemoteV4(state.code(), (int) r.lo, r.port)
                : sockets.countToRemoteV6(state.code(), r.hi, r.lo, r.port);
    }

    /**
     * Counts client-side sockets in a state whose remote endpoint is any of {@code remotes},
     * e.g. the CLOSE_WAIT sockets toward all endpoints of a pool. Each socket is counted once,
     * even if {@code remotes} names its endpoint twice.
     *
     * @param state the state to count
     * @param remotes the remote addresses and ports; each must be resolved
     * @return the number of sockets in {@code state} connected to one of {@code remotes}
     * @throws IllegalArgumentException if one of {@code remotes} is unresolved
     */
    public int countToRemotes(TcpState state, Collection<InetSocketAddress> remotes) {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(remotes, "remotes");
        long[] v4Keys = new long[remotes.size()];
        int v4Count = 0;
        Set<Remote> v6 = new LinkedHashSet<>(); // deduplicated so a socket is counted once
        for (InetSocketAddress address : remotes) {
            Remote r = Remote.of(address);
            if (r.isV4()) {
                v4Keys[v4Count++] = ProcNetTcpParser.Sockets.ipv4RemoteKey((int) r.lo, r.port);
            } else {
                v6.add(r);
            }
        }
        long[] sorted = Arrays.copyOf(v4Keys, v4Count);
        Arrays.sort(sorted);
        int count = v4Count == 0 ? 0 : sockets.countToRemotesV4(state.code(), sorted);
        // Pools reach few IPv6 endpoints, and each socket has one remote, so a sum is exact.
        for (Remote r : v6) {
            count += sockets.countToRemoteV6(state.code(), r.hi, r.lo, r.port);
        }
        return count;
    }

    /**
     * Returns the local ports of client-side sockets in a state whose remote endpoint is
     * {@code remote}: one per socket, so a socket can be followed from snapshot to snapshot
     * (e.g. to measure how long a CLOSE_WAIT lasts). Sockets bound to one port of different
     * local addresses (e.g. 127.0.0.2:45000 and 127.0.0.3:45000) are different connections, each
     * counted by {@link #countToRemote}, but share one port here.
     *
     * @param state the state to look for
     * @param remote the remote address and port; must be resolved
     * @return the local ports, in ascending order, unmodifiable; empty if there is none
     * @throws IllegalArgumentException if {@code remote} is unresolved
     */
    public Set<Integer> localPortsToRemote(TcpState state, InetSocketAddress remote) {
        Objects.requireNonNull(state, "state");
        Remote r = Remote.of(remote);
        Set<Integer> ports = new TreeSet<>();
        if (r.isV4()) {
            sockets.localPortsToRemoteV4(state.code(), (int) r.lo, r.port, ports);
        } else {
            sockets.localPortsToRemoteV6(state.code(), r.hi, r.lo, r.port, ports);
        }
        return Collections.unmodifiableSet(ports);
    }

    /**
     * Returns how many bytes have arrived on one client socket that its application has not read:
     * the kernel's receive queue ({@code rx_queue}), less the one the kernel counts for a FIN the
     * peer sent (CLOSE_WAIT, LAST_ACK, CLOSING). Linux answers the close of a socket with unread
     * bytes with RST, not FIN, so such a close leaves no TIME_WAIT; {@code shutdownInput()} does
     * not discard them.
     *
     * <p>The socket is named by its whole 4-tuple, as the kernel names it: its local address and
     * port ({@code Socket.getLocalSocketAddress()}) and its remote ones. An IPv4-mapped address
     * matches as IPv4.
     *
     * @param local the socket's local address and port; must be resolved
     * @param remote the socket's remote address and port; must be resolved
     * @return the unread bytes; empty if the snapshot has no such socket, or its table did not
     *         show the queue
     * @throws IllegalArgumentException if {@code local} or {@code remote} is unresolved
     */
    public OptionalInt unreadBytes(InetSocketAddress local, InetSocketAddress remote) {
        int entry = sockets.entry(local, remote);
        int unread = entry < 0 ? ProcNetTcpParser.UNKNOWN_QUEUE : sockets.unreadBytesAt(entry);
        return unread == ProcNetTcpParser.UNKNOWN_QUEUE ? OptionalInt.empty() : OptionalInt.of(unread);
    }

    /**
     * Counts server-side sockets in a state whose local port is {@code localPort}, whatever the
     * local address (a server bound to the wildcard and one bound to loopback count alike).
     * The listening socket itself is counted only when {@code state} is {@link TcpState#LISTEN}.
     *
     * @param state the state to count
     * @param localPort the local port, 0 to 65535
     * @return the number of sockets in {@code state} on that local port
     * @throws IllegalArgumentException if {@code localPort} is out of range
     */
    public int countOnLocalPort(TcpState state, int localPort) {
        Objects.requireNonNull(state, "state");
        if (localPort < 0 || localPort > 0xFFFF) {
            throw new IllegalArgumentException(
                    "localPort must be between 0 and 65535, but was " + localPort);
        }
        return sockets.countOnLocalPort(state.code(), localPort);
    }

    /**
     * Counts all sockets by state.
     *
     * @return an unmodifiable map holding every {@link TcpState}, with 0 for absent states
     */
    public Map<TcpState, Integer> countsByState() {
        return countsByState;
    }

    /**
     * Returns the number of sockets in the snapshot, including any in a state this version of
     * {@link TcpState} does not know.
     *
     * @return the number of sockets
     */
    public int size() {
        return sockets.size();
    }

    /** Returns the size and the non-zero counts by state, for logs and assertion messages. */
    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        parts.add("size=" + size());
        countsByState.forEach((state, count) -> {
            if (count > 0) {
                parts.add(state + "=" + count);
            }
        });
        return "SocketTable" + parts;
    }

    /** A remote endpoint in the parser's representation: IPv4 as the low 32 bits of {@code lo}. */
    private record Remote(boolean isV4, long hi, long lo, int port) {

        private static final long MAPPED_PREFIX = 0x0000_FFFFL;

        static Remote of(InetSocketAddress address) {
            Objects.requireNonNull(address, "remote address");
            if (address.isUnresolved()) {
                throw new IllegalArgumentException(
                        "remote address must be resolved, but was unresolved: " + address);
            }
            InetAddress ip = address.getAddress();
            ByteBuffer bytes = ByteBuffer.wrap(ip.getAddress()); // network byte order
            if (bytes.remaining() == 4) {
                return new Remote(true, 0, bytes.getInt() & 0xFFFF_FFFFL, address.getPort());
            }
            long hi = bytes.getLong();
            long lo = bytes.getLong();
            // Inet6Address.getByAddress keeps ::ffff:a.b.c.d as IPv6; the parser stores it as IPv4.
            if (hi == 0 && (lo >>> 32) == MAPPED_PREFIX) {
                return new Remote(true, 0, lo & 0xFFFF_FFFFL, address.getPort());
            }
            return new Remote(false, hi, lo, address.getPort());
        }
    }
}
