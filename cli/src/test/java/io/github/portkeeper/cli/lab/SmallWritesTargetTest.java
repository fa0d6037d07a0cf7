package io.github.portkeeper.cli.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.CliRun;
import io.github.portkeeper.cli.MiniJson;
import io.github.portkeeper.test.Kernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lab against a target like {@code python3 -m http.server --protocol HTTP/1.1}: the
 * httpclient column counts the same connections in every row, the verdict follows the figures
 * (Portkeeper's connections were reset when the client closed, not closed by the server), and
 * the lab says why the pooled modes are slower there.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SmallWritesTargetTest {

    private SmallWritesServer server;
    private CliRun run;
    private Map<String, Map<String, Object>> byMode;

    @BeforeAll
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void runTheLab(@TempDir Path dir) throws Exception {
        Kernel.assumeLinux();
        server = new SmallWritesServer();
        Path json = dir.resolve("lab.json");
        run = LabRun.of("--mode", "naive,httpclient", "--target", "http://127.0.0.1:" + server.port() + "/",
                "--requests", "200", "--concurrency", "8", "--json", json.toString());
        long acceptedByHttpClient = server.accepted() - 200;
        run = new CliRun(run.exitCode(), run.out() + "\n(server accepted " + acceptedByHttpClient
                + " httpclient connections)", run.err());
        CliRun pk = LabRun.of("--mode", "naive,portkeeper", "--target", "http://127.0.0.1:" + server.port() + "/",
                "--requests", "200", "--concurrency", "8");
        byMode = new LinkedHashMap<>();
        for (Object r : (List<?>) ((Map<?, ?>) MiniJson.parse(Files.readString(json))).get("runs")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) r;
            byMode.put((String) m.get("mode"), m);
        }
        byMode.put("accepted", Map.of("httpclient", acceptedByHttpClient));
        this.pkRun = pk;
        server.close();
    }

    private CliRun pkRun;

    @Test
    void httpclientConnectionsOpenedAreTheConnectionsTheServerAcceptedAndEachHasOneEnding() {
        assertThat(run.exitCode()).as("%s", run).isZero();
        Map<String, Object> h = byMode.get("httpclient");
        long opened = ((Number) h.get("connectionsOpened")).longValue();
        assertThat(opened).as("%s", run).isEqualTo(byMode.get("accepted").get("httpclient"));
        @SuppressWarnings("unchecked")
        Map<String, Object> closes = (Map<String, Object>) h.get("closes");
        assertThat(((Number) closes.get("peer")).longValue() + ((Number) closes.get("local")).longValue())
                .as("endings of the %d connections\n%s", opened, run).isEqualTo(opened);
    }

    @Test
    void labSaysWhyPooledModesAreSlowerAgainstSuchAServer() {
        assertThat(run.out()).as("%s", run).contains("Pooling looks slower here", "delayed-ACK", "TCP_NODELAY");
        assertThat(pkRun.out()).as("%s", pkRun).contains("Pooling looks slower here");
    }

    @Test
    void verdictSaysPortkeepersConnectionsWereResetNotClosedByTheServer() {
        assertThat(pkRun.exitCode()).as("%s", pkRun).isZero();
        String verdict = pkRun.out().substring(pkRun.out().indexOf("Verdict:")).replace('\n', ' ');
        assertThat(verdict).as("%s", pkRun).doesNotContain("Portkeeper also lets the server close", "let the server close all")
                .contains("were reset when the client was closed", "--cooldown");
    }
}
