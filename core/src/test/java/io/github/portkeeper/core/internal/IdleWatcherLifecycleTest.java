package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The watcher is shared by every pool of the JVM for as long as it runs: one failure to start its
 * thread, one throw that ends the thread, or one failure to hand a lookup off must not stop it
 * for good, and its threads must not pin the class loader of whichever thread happened to start
 * them. Each test uses a watcher of its own (or a seam), never the shared one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IdleWatcherLifecycleTest {

    private static final long WAIT_SECONDS = 20;

    /** A task that counts down when run. */
    private static IdleWatcher.Task counting(CountDownLatch ran) {
        return new IdleWatcher.Task() {
            @Override
            protected long run(long now) {
                ran.countDown();
                return IdleWatcher.NEVER;
            }
        };
    }

    @Test
    void aWatcherWhoseThreadFailedToStartStartsOneAtTheNextSchedule() throws Exception {
        AtomicBoolean failNext = new AtomicBoolean(true);
        IdleWatcher watcher = new IdleWatcher("portkeeper-watcher-start-fails-test", (work, name) -> {
            if (name.equals("portkeeper-watcher-start-fails-test") && failNext.getAndSet(false)) {
                throw new OutOfMemoryError("unable to create native thread: possibly out of memory");
            }
            Thread t = new Thread(work, name);
            t.setDaemon(true);
            return t;
        });
        CountDownLatch ran = new CountDownLatch(1);
        IdleWatcher.Task task = counting(ran);

        try {
            watcher.schedule(task, System.nanoTime());
        } catch (OutOfMemoryError expected) {
            // Reported to this caller or logged: either way the watcher must try again.
        }
        assertThat(failNext).as("the first start was attempted and failed").isFalse();
        watcher.schedule(task, System.nanoTime());

        assertThat(ran.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("the task ran after a failed start").isTrue();
    }

    @Test
    void aThrowThatEndsTheWatchersThreadDoesNotStopTheWatcher() throws Exception {
        IdleWatcher watcher = new IdleWatcher("portkeeper-watcher-throw-test");
        CountDownLatch thrown = new CountDownLatch(1);
        IdleWatcher.Task throwing = new IdleWatcher.Task() {
            @Override
            protected long run(long now) {
                thrown.countDown();
                throw IdleWatcherLifecycleTest.<RuntimeException>sneaky(new Exception("a checked exception the loop does not expect"));
            }
        };
        watcher.schedule(throwing, System.nanoTime());
        assertThat(thrown.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("the throwing task ran").isTrue();

        CountDownLatch ran = new CountDownLatch(1);
        watcher.schedule(counting(ran), System.nanoTime());

        assertThat(ran.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("a task scheduled after the throw ran").isTrue();
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T sneaky(Throwable t) throws T {
        throw (T) t;
    }

    @Test
    void aLookupThatCouldNotBeHandedOffIsStartedAgainByTheNextCall() throws Exception {
        Consumer<Runnable> shared = EndpointAddresses.lookupRunner;
        AtomicInteger handOffs = new AtomicInteger();
        EndpointAddresses.lookupRunner = work -> {
            if (handOffs.getAndIncrement() == 0) {
                throw new OutOfMemoryError("unable to create native thread: possibly out of memory");
            }
            shared.accept(work);
        };
        try {
            EndpointAddresses addresses = new EndpointAddresses();
            Endpoint endpoint = Endpoint.of("localhost", 80);
            try {
                addresses.current(endpoint, 0, () -> { });
            } catch (OutOfMemoryError expected) {
                // The caller hears of it; the next call must try again.
            }
            await().atMost(Duration.ofSeconds(WAIT_SECONDS)).pollInterval(Duration.ofMillis(20))
                    .untilAsserted(() -> assertThat(addresses.current(endpoint, 0, () -> { }))
                            .as("localhost's addresses, looked up after the failed hand-off (hand-offs: %d)", handOffs.get())
                            .isNotNull().isNotEmpty());
        } finally {
            EndpointAddresses.lookupRunner = shared;
        }
    }

    @Test
    void theWatchersThreadsDoNotKeepTheContextClassLoaderOfTheThreadThatStartedThem() throws Exception {
        IdleWatcher watcher = new IdleWatcher("portkeeper-watcher-tccl-test");
        Map<String, ClassLoader> seen = new ConcurrentHashMap<>();
        CountDownLatch all = new CountDownLatch(4);
        ClassLoader before = Thread.currentThread().getContextClassLoader();
        try (URLClassLoader webapp = new URLClassLoader(new URL[0], null)) {
            Thread.currentThread().setContextClassLoader(webapp);
            try {
                watcher.schedule(new IdleWatcher.Task() {
                    @Override
                    protected long run(long now) {
                        seen.put("watcher", Thread.currentThread().getContextClassLoader());
                        all.countDown();
                        return IdleWatcher.NEVER;
                    }
                }, System.nanoTime());
                watcher.runOnWorker(() -> {
                    seen.put("worker", Thread.currentThread().getContextClassLoader());
                    all.countDown();
                });
                watcher.runKernelRead(() -> {
                    seen.put("kernel", Thread.currentThread().getContextClassLoader());
                    all.countDown();
                });
                watcher.runLookup(() -> {
                    seen.put("lookup", Thread.currentThread().getContextClassLoader());
                    all.countDown();
                });
            } finally {
                Thread.currentThread().setContextClassLoader(before);
            }
            assertThat(all.await(WAIT_SECONDS, TimeUnit.SECONDS)).as("every thread ran its work: %s", seen).isTrue();
            assertThat(seen).hasSize(4);
            seen.forEach((thread, loader) -> assertThat(loader)
                    .as("context class loader of the %s thread", thread).isNotSameAs(webapp));
        }
    }
}
