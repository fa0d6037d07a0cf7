package io.github.portkeeper.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The small examples run to the end and report no TIME_WAIT caused. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ExamplesTest {

    @Test
    void socketPoolExampleRuns() throws Exception {
        String out = capture(() -> SocketPoolExample.main(new String[0]));

        assertThat(out).contains("1,000 requests on").contains("TIME_WAIT caused (pool): 0")
                .contains("timewait.avoided:         1000");
    }

    @Test
    void httpClientExampleRuns() throws Exception {
        String out = capture(() -> HttpClientExample.main(new String[0]));

        assertThat(out).contains("1,000 GETs on").contains("TIME_WAIT caused (pool): 0")
                .contains("timewait.avoided:         1000");
    }

    @Test
    void httpClientExampleStopsItsServerWhenARequestFails() throws Exception {
        assertThatThrownBy(() -> capture(() -> HttpClientExample.run(exchange -> {
            byte[] body = "no\n".getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(500, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        }))).isInstanceOf(IllegalStateException.class).hasMessage("unexpected answer: no\n");

        // The JDK server's dispatcher is not a daemon thread: left running, it keeps the JVM alive.
        await().atMost(Duration.ofSeconds(10)).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("HTTP-Dispatcher") && t.isAlive()));
    }

    private interface Main {
        void run() throws Exception;
    }

    private static synchronized String capture(Main main) throws Exception {
        PrintStream original = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            main.run();
        } finally {
            System.setOut(original);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
