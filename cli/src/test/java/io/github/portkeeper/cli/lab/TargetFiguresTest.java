package io.github.portkeeper.cli.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.CliRun;
import io.github.portkeeper.cli.MiniJson;
import io.github.portkeeper.test.Kernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * With {@code --target}, the httpclient column's figures count the same connections: the
 * connections opened are those the server accepted, and every one of them has one ending.
 */
class TargetFiguresTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void httpclientConnectionsOpenedAreTheServersAcceptedAndEachHasOneEnding(@TempDir Path dir) throws Exception {
        Kernel.assumeLinux();
        try (EmbeddedServer server = EmbeddedServer.start(Duration.ofMillis(500))) {
            Path json = dir.resolve("lab.json");
            CliRun run = LabRun.of("--mode", "httpclient", "--target", "http://127.0.0.1:" + server.port() + "/",
                    "--requests", "300", "--concurrency", "8", "--cooldown", "2s", "--json", json.toString());
            assertThat(run.exitCode()).as("%s", run).isZero();

            @SuppressWarnings("unchecked")
            Map<String, Object> r = ((List<Map<String, Object>>) ((Map<String, Object>) MiniJson.parse(
                    Files.readString(json))).get("runs")).get(0);
            long opened = ((Number) r.get("connectionsOpened")).longValue();
            @SuppressWarnings("unchecked")
            Map<String, Object> closes = (Map<String, Object>) r.get("closes");
            assertThat(opened).as("connections opened vs accepted by the server\n%s", run).isEqualTo(server.accepted());
            long peer = ((Number) closes.get("peer")).longValue();
            long local = ((Number) closes.get("local")).longValue();
            assertThat(peer + local).as("endings of the %d connections\n%s", opened, run).isEqualTo(opened);
            String closeWait = run.out().lines().filter(l -> l.startsWith("client CLOSE_WAIT before close"))
                    .findFirst().orElseThrow().replaceAll("\\D", "");
            assertThat(Long.parseLong(closeWait)).as("CLOSE_WAIT among the opened\n%s", run).isLessThanOrEqualTo(opened);
        }
    }
}
