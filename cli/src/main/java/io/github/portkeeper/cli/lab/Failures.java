package io.github.portkeeper.cli.lab;

import java.net.SocketTimeoutException;
import java.util.Locale;
import java.util.concurrent.TimeoutException;

/** Names the cause of a failed request the way an operator would search for it. */
final class Failures {

    static final String EADDRNOTAVAIL = "EADDRNOTAVAIL";

    private Failures() {
    }

    /**
     * The cause of {@code failure}: an errno name where the kernel gave one
     * ({@code EADDRNOTAVAIL} for {@code java.net.BindException: Cannot assign requested address}),
     * {@code HTTP nnn} for an error status, otherwise the innermost exception's simple name.
     */
    static String causeOf(Throwable failure) {
        Throwable root = failure;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String message = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (message.contains("cannot assign requested address")) {
                return EADDRNOTAVAIL;
            }
            if (message.contains("connection refused")) {
                return "ECONNREFUSED";
            }
            if (message.contains("connection reset")) {
                return "ECONNRESET";
            }
            if (message.contains("broken pipe")) {
                return "EPIPE";
            }
            if (message.contains("no route to host")) {
                return "EHOSTUNREACH";
            }
            if (t instanceof LabClient.HttpStatusException) {
                return "HTTP " + ((LabClient.HttpStatusException) t).status();
            }
            if (t instanceof SocketTimeoutException || t instanceof TimeoutException
                    || t.getClass().getSimpleName().endsWith("TimeoutException")) {
                return "timeout (" + t.getClass().getSimpleName() + ")";
            }
            root = t;
        }
        return root.getClass().getSimpleName();
    }
}
