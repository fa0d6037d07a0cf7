package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The pool forgets an endpoint on its listener thread while a call to it may already hold its
 * breaker but not yet a lease: the breaker must stay, or the call's outcome is recorded on a
 * breaker nobody keeps, lost to the circuit and its meters.
 */
class BreakersTest {

    private static final Endpoint ENDPOINT = Endpoint.of("127.0.0.1", 9);

    @Test
    void aBreakerInUseByACallIsKeptWhenThePoolForgetsItsEndpoint() {
        CircuitBreakerRegistry registry = CircuitBreakerRegistry.ofDefaults();
        Breakers breakers = Breakers.claim(registry, "in-use");
        try {
            CircuitBreaker inCall = breakers.callStarted(ENDPOINT); // the call's fetch, before its lease
            breakers.endpointForgotten(ENDPOINT, e -> false);
            inCall.onError(1, TimeUnit.MILLISECONDS, new IOException("reset"));
            assertThat(registry.getAllCircuitBreakers()).as("while the call holds it").containsExactly(inCall);
            CircuitBreaker nextCall = breakers.callStarted(ENDPOINT);
            breakers.callEnded(ENDPOINT, inCall);
            breakers.callEnded(ENDPOINT, nextCall);

            assertThat(nextCall).as("the breaker the next call got").isSameAs(inCall);
            assertThat(inCall.getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
            assertThat(registry.getAllCircuitBreakers()).as("once the last call that held it ended").isEmpty();
        } finally {
            breakers.close();
        }
    }

    @Test
    void aForgottenEndpointsBreakerStaysWhenThePoolKnowsItAgainByTheTimeItsCallEnds() {
        CircuitBreakerRegistry registry = CircuitBreakerRegistry.ofDefaults();
        Breakers breakers = Breakers.claim(registry, "known-again");
        try {
            CircuitBreaker inCall = breakers.callStarted(ENDPOINT);
            breakers.endpointForgotten(ENDPOINT, e -> true);
            breakers.callEnded(ENDPOINT, inCall);
            assertThat(registry.getAllCircuitBreakers()).containsExactly(inCall);
        } finally {
            breakers.close();
        }
    }
}
