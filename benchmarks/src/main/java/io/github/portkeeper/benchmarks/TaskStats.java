package io.github.portkeeper.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * CPU time and context switches of each thread of this process, from {@code /proc/self/task}:
 * {@code stat} fields 14 and 15 (user and system clock ticks, 100 per second) and
 * {@code status}' {@code voluntary_ctxt_switches} (each one a wakeup after sleeping) plus
 * {@code nonvoluntary_ctxt_switches}.
 */
record TaskStats(String name, long ticks, long switches) {

    private static final double TICKS_PER_SECOND = 100.0;
    /** The JVM's own threads (and the harness's process reaper), never a client library's. */
    private static final java.util.regex.Pattern JVM_THREAD = java.util.regex.Pattern.compile(
            "GC Thread.*|G1 .*|C[12] CompilerThre.*|VM .*|Common-Cleaner|Signal Dispatch.*|Reference Handl.*|Finalizer"
                    + "|Notification Th.*|Service Thread|Monitor Deflati.*|Attach Listener|process reaper|Sweeper thread|java");

    /** Ids of the threads alive now. */
    static Set<Integer> tids() throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.map(p -> Integer.parseInt(p.getFileName().toString())).collect(Collectors.toSet());
        }
    }

    static Map<Integer, TaskStats> all() throws IOException {
        Map<Integer, TaskStats> out = new HashMap<>();
        for (int tid : tids()) {
            try {
                Path dir = Path.of("/proc/self/task", String.valueOf(tid));
                String stat = Files.readString(dir.resolve("stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
                long switches = 0;
                for (String line : Files.readAllLines(dir.resolve("status"))) {
                    if (line.startsWith("voluntary_ctxt_switches") || line.startsWith("nonvoluntary_ctxt_switches")) {
                        switches += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
                String name = Files.readString(dir.resolve("comm")).trim();
                out.put(tid, new TaskStats(name, ticks, switches));
            } catch (IOException gone) {
                // The thread ended meanwhile.
            }
        }
        return out;
    }

    /** Threads, CPU seconds and wakeups between two snapshots. */
    record Delta(int threads, double cpuSeconds, long wakeups, String names) {
    }

    /**
     * Sums the change from {@code before} to {@code after}: over every thread of the process
     * ({@code all}), or only over threads that are not in {@code baseline} (the library's).
     */
    static Delta delta(Map<Integer, TaskStats> before, Map<Integer, TaskStats> after, Set<Integer> baseline, boolean all) {
        int threads = 0;
        long ticks = 0;
        long switches = 0;
        Map<String, Integer> names = new TreeMap<>();
        for (Map.Entry<Integer, TaskStats> e : after.entrySet()) {
            TaskStats a = e.getValue();
            if (!all && (baseline.contains(e.getKey()) || JVM_THREAD.matcher(a.name()).matches())) {
                continue;
            }
            TaskStats b = before.getOrDefault(e.getKey(), new TaskStats(a.name(), 0, 0));
            threads++;
            ticks += a.ticks() - b.ticks();
            switches += a.switches() - b.switches();
            names.merge(a.name(), 1, Integer::sum);
        }
        return new Delta(threads, ticks / TICKS_PER_SECOND, switches, names.toString());
    }
}
