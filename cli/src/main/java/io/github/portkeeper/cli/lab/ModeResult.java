package io.github.portkeeper.cli.lab;

import java.util.List;

/**
 * One mode's figures. Kernel-derived figures are {@code null} where the kernel could not be read
 * (not Linux), and {@link #serverTimeWait} also where the server is not on this host
 * ({@link #serverOnThisHost} tells the two apart).
 *
 * @param mode              the mode
 * @param target            the server, {@code host:port}
 * @param outcome           requests, failures, rate and latency
 * @param connectionsOpened TCP connections the mode opened, {@code null} if unknown
 * @param closes            how the connections ended
 * @param clientTimeWait    client-side TIME_WAIT toward the server: peak during the mode and at its end
 * @param serverTimeWait    the server's TIME_WAIT, when the server runs on this host
 * @param clientCloseWaitAtClose client-side CLOSE_WAIT sockets just before the client was closed:
 *                          connections the server had closed that the client still held
 * @param timeWaitCaused    client TIME_WAIT sockets the mode caused: connections it closed first
 * @param timeWaitAvoided   TIME_WAIT a socket-per-request client would have left and this one did not
 * @param poolLimit         the client's connections-per-server limit, -1 for none
 * @param lastRequestMillis when the last request was answered, since the mode's first request
 * @param cooldownMillis    how long the pooled client stayed open, idle, after the last request
 * @param series            client TIME_WAIT over time, for the chart
 * @param notes             caveats to print under the table
 * @param loopback          whether the server's addresses are all loopback ones (resolved, not read
 *                          from the name), where the kernel's tcp_tw_reuse=2 reuses TIME_WAIT ports
 * @param serverOnThisHost  whether the server ran on this host (the embedded one), so that its
 *                          TIME_WAIT is a figure of this run, observed or not
 */
record ModeResult(Mode mode, String target, Workload.Outcome outcome, Long connectionsOpened, Closes closes,
                  Peak clientTimeWait, Peak serverTimeWait, Integer clientCloseWaitAtClose, Long timeWaitCaused,
                  Long timeWaitAvoided,
                  int poolLimit, long lastRequestMillis, long cooldownMillis, List<Point> series, List<String> notes,
                  boolean loopback, boolean serverOnThisHost) {

    /** Peak during the mode and value at its end (after the client was closed). */
    record Peak(int peak, int end) {
    }

    /**
     * Connections by ending; a {@code null} figure is unknown (the server was not on this host,
     * so a reset could not be told from a peer close).
     */
    record Closes(Long peer, Long local, Long reset) {
    }

    /** Client TIME_WAIT at {@code millis} since the mode started. */
    record Point(long millis, int clientTimeWait) {
    }
}
