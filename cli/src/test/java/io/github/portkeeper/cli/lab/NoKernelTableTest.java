package io.github.portkeeper.cli.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.MiniJson;
import io.github.portkeeper.core.KernelProbe;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Where the kernel's socket table cannot be read (not Linux), the kernel figures are null, not left out. */
class NoKernelTableTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    @SuppressWarnings("unchecked")
    void theEmbeddedServersTimeWaitIsNullWhenTheKernelTableCannotBeRead(@TempDir Path dir) throws Exception {
        KernelProbe none = KernelProbe.reading(dir.resolve("no-tcp"), dir.resolve("no-tcp6"));
        LabOptions options = LabRun.parse("--mode", "naive", "--requests", "20", "--concurrency", "2");

        ModeResult naive = new ModeRunner(options, none, new PrintStream(OutputStream.nullOutputStream())).run(Mode.NAIVE);

        Map<String, Object> run = ((List<Map<String, Object>>) ((Map<String, Object>) MiniJson.parse(
                JsonReport.of(List.of(naive)))).get("runs")).get(0);
        assertThat(run).containsKey("serverTimeWait");
        assertThat((Map<String, Object>) run.get("serverTimeWait")).containsEntry("peak", null).containsEntry("end", null);
        assertThat((Map<String, Object>) run.get("clientTimeWait")).containsEntry("peak", null).containsEntry("end", null);
    }
}
