package io.github.portkeeper.core.budget;

import java.net.BindException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The failures of a namespace workload's phase other than the budget's refusal, counted apart:
 * EADDRNOTAVAIL (what the budget exists to prevent) and the rest, with the first described.
 * Thread-safe.
 */
final class Failures {

    private final AtomicInteger addressNotAvailable = new AtomicInteger();
    private final AtomicInteger other = new AtomicInteger();
    private final AtomicReference<String> first = new AtomicReference<>("none");

    void add(Throwable e) {
        (isAddressNotAvailable(e) ? addressNotAvailable : other).incrementAndGet();
        first.compareAndSet("none", describe(e));
    }

    int addressNotAvailable() {
        return addressNotAvailable.get();
    }

    int other() {
        return other.get();
    }

    /** The first failure with its causes, on one line; {@code none} if there was none. */
    String first() {
        return first.get();
    }

    private static boolean isAddressNotAvailable(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof BindException || String.valueOf(c.getMessage()).contains("Cannot assign requested address")) {
                return true;
            }
        }
        return false;
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(e.toString());
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            sb.append(" <- ").append(c);
        }
        return sb.toString().replace('\n', ' ');
    }
}
