package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Endpoint;

/** The endpoints every pool is keyed by: the same objects for every pool, so key hashing costs alike. */
final class Endpoints {

    private Endpoints() {
    }

    static Endpoint[] of(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("endpoints must be at least 1, but was " + count);
        }
        Endpoint[] endpoints = new Endpoint[count];
        for (int i = 0; i < count; i++) {
            endpoints[i] = Endpoint.of("backend-" + i + ".example", 8080);
        }
        return endpoints;
    }
}
