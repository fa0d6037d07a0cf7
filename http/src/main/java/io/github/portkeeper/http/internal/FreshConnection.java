package io.github.portkeeper.http.internal;

/**
 * Asks the connection manager, on this thread, for a connection that was not reused: set by the
 * retry handler around a retry after a reused connection turned out dead. The classic exec chain
 * leases on the calling thread, and the lease API has no context to carry the wish otherwise.
 */
public final class FreshConnection {

    private static final ThreadLocal<Boolean> REQUIRED = new ThreadLocal<>();

    private FreshConnection() {
    }

    public static void require() {
        REQUIRED.set(Boolean.TRUE);
    }

    public static void clear() {
        REQUIRED.remove();
    }

    public static boolean isRequired() {
        return REQUIRED.get() != null;
    }
}
