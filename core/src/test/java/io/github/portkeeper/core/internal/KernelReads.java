package io.github.portkeeper.core.internal;

/** For tests in other packages: how many times this JVM has read the kernel's socket table. */
public final class KernelReads {

    private KernelReads() {
    }

    /** Reads of {@code /proc/net/tcp{,6}} by the JVM's shared port counter so far. */
    public static long count() {
        return KernelPortCounter.shared().tableReads();
    }
}
