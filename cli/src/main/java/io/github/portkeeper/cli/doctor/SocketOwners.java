package io.github.portkeeper.cli.doctor;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Finds which process holds a socket: the kernel lists a socket's inode in its table, and each
 * process's open sockets as links {@code /proc/<pid>/fd/N -> socket:[inode]}. Scanning every
 * process's descriptors costs a few milliseconds on a quiet host, so it is done only when a read
 * of the table holds sockets whose owner is not yet known; owners are remembered by inode (an
 * inode stays with one socket for its life).
 *
 * <p>Processes of other users cannot be read without root: their sockets stay unattributed.
 */
final class SocketOwners {

    static final int UNKNOWN = -1;

    private final ProcFs proc;
    private final LongIntMap pidByInode = new LongIntMap(1024);
    private final Map<Integer, String> commands = new HashMap<>();
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

    String command(int pid) {
        return commands.computeIfAbsent(pid, proc::command);
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
}
