package io.github.portkeeper.core.internal;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** For tests in other packages: how many times this JVM has read the kernel's socket table, and a way to hold off reads. */
public final class KernelReads {

    private KernelReads() {
    }

    /** Reads of {@code /proc/net/tcp{,6}} by the JVM's shared port counter so far. */
    public static long count() {
        return KernelPortCounter.shared().tableReads();
    }

    /**
     * Occupies the JVM's one kernel-read thread until the returned handle is closed: a read in
     * progress finishes first, and none starts meanwhile (reads asked for queue up and run after).
     * Lets a test look at the port counts between two reads whatever the machine's load.
     */
    public static AutoCloseable holdReads() throws InterruptedException {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        IdleWatcher.shared().runKernelRead(() -> {
            holding.countDown();
            try {
                release.await(60, TimeUnit.SECONDS); // bounded: a test that forgets to close must not stop reads for good
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (!holding.await(30, TimeUnit.SECONDS)) {
            release.countDown();
            throw new AssertionError("the kernel-read thread did not take our task within 30 s");
        }
        return release::countDown;
    }
}
