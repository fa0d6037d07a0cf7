package io.github.portkeeper.cli.lab;

import java.util.Locale;

/** The three ways the lab fires its workload, in the order they run. */
enum Mode {
    /** A new TCP connection per request; the client reads the response and closes first. */
    NAIVE("naive"),
    /** Apache HttpClient 5 as {@code HttpClients.createDefault()} builds it. */
    HTTPCLIENT("httpclient"),
    /** {@code PortkeeperHttpClients} with its {@code PoolMetrics} bound. */
    PORTKEEPER("portkeeper");

    private final String label;

    Mode(String label) {
        this.label = label;
    }

    String label() {
        return label;
    }

    static Mode byName(String name) {
        for (Mode m : values()) {
            if (m.label.equals(name.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        return null;
    }
}
