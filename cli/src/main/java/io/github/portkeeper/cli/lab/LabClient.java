package io.github.portkeeper.cli.lab;

/**
 * One way of sending the lab's GET request: a naive socket per request, stock HttpClient, or
 * Portkeeper. Implementations are thread-safe: the workload calls {@link #get()} from several
 * threads at once.
 */
interface LabClient extends AutoCloseable {

    /**
     * Sends one GET and reads the whole response.
     *
     * @throws Exception when the request fails, including a response status of 400 or more
     *     ({@link HttpStatusException})
     */
    void get() throws Exception;

    /** Closes the client and every connection it still holds. */
    @Override
    void close() throws java.io.IOException;

    /** A response with a status of 400 or more. */
    final class HttpStatusException extends java.io.IOException {
        private static final long serialVersionUID = 1L;
        private final int status;

        HttpStatusException(int status) {
            super("HTTP " + status);
            this.status = status;
        }

        int status() {
            return status;
        }
    }
}
