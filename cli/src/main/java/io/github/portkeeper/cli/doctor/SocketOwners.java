package io.github.portkeeper.cli.doctor;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Finds which process holds a socket: the kernel lists a socket's inode in its table, and each
 * process's open sockets as links {@code /proc/<pid>/fd/N -> socket:[inode]}. Scanning every
 * process's descriptors costs a few milliseconds on a quiet host, so it is done only when a read
 * of the table holds sockets whose owner is not yet known; owners are remembered by inode (an
 * inode stays with one socket for its life) while the socket is in the table, and commands by pid
 * and start time (a pid is reused by later processes).
 *
 * <p>Processes of other users cannot be read without root: their sockets stay unattributed.
 */
final class SocketOwners {

    static final int UNKNOWN = -1;

    /** {@link #command}'s start time for a process that is not running (any more). */
    private static final long NOT_RUNNING = -1;

    private final ProcFs proc;
    private LongIntMap pidByInode = new LongIntMap(1024);
    private final Map<Integer, Command> commands = new HashMap<>();
    private int scans;

    SocketOwners(ProcFs proc) {
        this.proc = proc;
    }

    /** Resolves the owners of {@code wanted} inodes not yet known, with one scan of all processes. */
    void resolve(LongIntMap wanted) throws IOException {
        if (wanted.size() == 0) {
            return;
        }
        scans++;
        try (DirectoryStream<Path> pids = proc.processes()) {
            for (Path dir : pids) {
                int pid = Integer.parseInt(dir.getFileName().toString());
                scanDescriptors(pid, dir.resolve("fd"), wanted);
            }
        }
        // Remember the misses too (sockets of processes we may not read), so that they do not
        // cost a scan on every read.
        wanted.forEachKey(inode -> {
            if (!pidByInode.containsKey(inode)) {
                pidByInode.put(inode, UNKNOWN);
            }
        });
    }

    /** Returns the pid holding the socket with {@code inode}, or {@link #UNKNOWN}. */
    int owner(long inode) {
        return pidByInode.get(inode, UNKNOWN);
    }

    boolean isKnown(long inode) {
        return pidByInode.containsKey(inode);
    }

    /** How many sockets' owners are remembered: a figure for tests. */
    int rememberedSockets() {
        return pidByInode.size();
    }

    /** How many processes' commands are remembered: a figure for tests. */
    int rememberedCommands() {
        return commands.size();
    }

    /**
     * The command of {@code pid}: remembered, so a process that has ended is still named, but read
     * again when the pid now belongs to another process (another start time).
     */
    String command(int pid) {
        long started = proc.startTime(pid).orElse(NOT_RUNNING);
        Command known = commands.get(pid);
        if (known != null && (started == NOT_RUNNING || started == known.startTime())) {
            return known.command();
        }
        String command = proc.command(pid);
        commands.put(pid, new Command(started, command));
        return command;
    }

    /**
     * Forgets the owners of sockets not in {@code liveInodes} (those of the latest read of the
     * table) and the commands of processes that own none of them and are not in {@code keepPids}, so
     * what is remembered follows the host's live sockets, not every socket {@code --watch} ever saw.
     */
    void retainOnly(LongIntMap liveInodes, Set<Integer> keepPids) {
        LongIntMap kept = new LongIntMap(Math.max(16, liveInodes.size()));
        Set<Integer> owning = new HashSet<>(keepPids);
        pidByInode.forEach((inode, pid) -> {
            if (liveInodes.containsKey(inode)) {
                kept.put(inode, pid);
                owning.add(pid);
            }
        });
        pidByInode = kept;
        commands.keySet().retainAll(owning);
    }

    /** How many times all processes were scanned: a figure for the report and tests. */
    int scans() {
        return scans;
    }

    private void scanDescriptors(int pid, Path fdDir, LongIntMap wanted) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(fdDir)) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException | UnsupportedOperationException e) {
                    continue; // closed meanwhile
                }
                if (target.startsWith("socket:[") && target.endsWith("]")) {
                    long inode = parseInode(target);
                    if (inode > 0 && wanted.containsKey(inode)) {
                        pidByInode.put(inode, pid);
                    }
                }
            }
        } catch (IOException | SecurityException e) {
            // the process ended, or its descriptors are not ours to read
        }
    }

    private static long parseInode(String target) {
        try {
            return Long.parseLong(target, "socket:[".length(), target.length() - 1, 10);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A process's command line, read when it had {@code startTime}. */
    private record Command(long startTime, String command) {
    }
}
