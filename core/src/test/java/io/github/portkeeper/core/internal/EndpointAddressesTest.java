package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link EndpointAddresses#current} never blocks its caller (the kernel reader's thread): only a
 * true address literal is read on the spot; anything else, also a dotted string that looks like
 * one but is not ({@code 999.1.1.1}, which the JDK sends to DNS), is looked up on a thread of its
 * own. Lookups go through the lookup seam, which records the thread of each call.
 */
@Timeout(60)
class EndpointAddressesTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private final Map<String, List<Thread>> lookupThreads = new ConcurrentHashMap<>();
    private EndpointAddresses.Lookup jvmLookup;

    @BeforeEach
    void recordLookups() {
        jvmLookup = EndpointAddresses.lookup;
        EndpointAddresses.lookup = host -> {
            lookupThreads.computeIfAbsent(host, h -> new CopyOnWriteArrayList<>()).add(Thread.currentThread());
            if (host.startsWith("999.") || host.endsWith(".256")) {
                throw new UnknownHostException(host); // what DNS answers, however long it takes
            }
            return jvmLookup.allByName(host);
        };
    }

    @AfterEach
    void restore() {
        if (jvmLookup != null) {
            EndpointAddresses.lookup = jvmLookup;
        }
    }

    @Test
    void aDottedHostWithAnOctetPast255IsLookedUpOffTheCallersThreadAndNotAgainOnTheNextCall() {
        for (String host : new String[] {"999.1.1.1", "10.0.0.256"}) {
            EndpointAddresses addresses = new EndpointAddresses();
            Endpoint endpoint = Endpoint.of(host, 80);

            assertThat(addresses.current(endpoint, 0, () -> { })).as(host).isNull();
            await().atMost(WAIT).until(addresses::unresolvable);
            assertThat(addresses.current(endpoint, 1, () -> { })).as(host).isNull();

            assertThat(lookupThreads.get(host)).as("threads that looked up " + host).hasSize(1)
                    .doesNotContain(Thread.currentThread());
        }
    }

    @Test
    void anAddressLiteralIsReadOnTheFirstCall() throws Exception {
        for (String host : new String[] {"127.0.0.1", "255.255.255.255", "0.0.0.0", "::1"}) {
            List<InetSocketAddress> found = new EndpointAddresses().current(Endpoint.of(host, 80), 0, () -> { });
            assertThat(found).as(host).containsExactly(new InetSocketAddress(InetAddress.getByName(host), 80));
        }
    }
}
