package io.github.portkeeper.cli.lab;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The lab's settings, validated by {@link LabCommand}. {@code forwardable} holds the flags as
 * given (but {@code --starved}), for the run {@code --starved} starts inside a network namespace.
 */
record LabOptions(Set<Mode> modes, int requests, int concurrency, Optional<URI> target,
                  Duration serverIdleTimeout, Optional<Duration> cooldown, Optional<Path> json,
                  Optional<Path> chart, boolean starved, List<String> forwardable) {

    static final int DEFAULT_REQUESTS = 5_000;
    static final int DEFAULT_CONCURRENCY = 8;
    static final Duration DEFAULT_SERVER_IDLE_TIMEOUT = Duration.ofSeconds(2);
    static final int MAX_REQUESTS = 10_000_000;
    static final int MAX_CONCURRENCY = 1_024;
}
