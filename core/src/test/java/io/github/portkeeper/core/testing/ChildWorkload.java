package io.github.portkeeper.core.testing;

/**
 * What a workload run in a child JVM (started with {@link Host#java}, often inside a network
 * namespace) shares: how it exits, and the {@code RESULT key=value} lines it prints for
 * {@link Host#results} to read.
 */
public final class ChildWorkload {

    /** A workload's body. */
    public interface Body {
        void run() throws Exception;
    }

    private ChildWorkload() {
    }

    /** Runs {@code body}, then exits 0; or prints the stack trace of what it threw and exits 2. */
    public static void main(Body body) {
        try {
            body.run();
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.flush();
            System.exit(2);
        }
    }

    /** Prints {@code RESULT key=value} at once. */
    public static void result(String key, Object value) {
        System.out.println(Host.RESULT_PREFIX + key + "=" + value);
        System.out.flush();
    }
}
