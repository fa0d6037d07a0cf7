package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Socket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link TimeWaitCount}: the starting count it keeps, and the difference it reads later. */
class TimeWaitCountTest {

    @BeforeAll
    static void linuxOnly() {
        Kernel.assumeLinux();
    }

    @Test
    void atStartIsTheClientTimeWaitAlreadyTowardTheServerAndNewSinceOnlyWhatCameAfter() throws IOException {
        try (LineServer server = LineServer.echo()) {
            assertThat(TimeWaitCount.toward(server.address()).atStart()).as("a fresh server's port").isZero();
            closeFirst(server, 2);

            TimeWaitCount count = TimeWaitCount.toward(server.address());
            assertThat(count.atStart()).as(Kernel.describe(server.address())).isEqualTo(2);
            assertThat(count.newSince()).isZero();

            closeFirst(server, 1);
            assertThat(count.newSince()).as(Kernel.describe(server.address())).isEqualTo(1);
            assertThat(count.atStart()).as("kept as taken").isEqualTo(2);
            assertThat(count).hasToString("TimeWaitCount[" + server.address() + ", atStart=2]");
        }
    }

    private static void closeFirst(LineServer server, int times) throws IOException {
        for (int i = 0; i < times; i++) {
            try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                KernelCheckTest.exchange(s);
            }
        }
    }
}
