package io.github.portkeeper.benchmarks;

import com.sun.net.httpserver.HttpServer;

import java.lang.reflect.Method;
import java.util.concurrent.ExecutorService;

/**
 * Run in a JVM of its own by {@link KeepAliveSetupTest}: starts {@link KeepAliveSetup#server},
 * then prints whether the JDK's server sets {@code TCP_NODELAY} on its connections (its
 * {@code ServerConfig}, read once per JVM), or the failure's message.
 */
public final class NoDelayProbe {

    private NoDelayProbe() {
    }

    public static void main(String[] args) throws Exception {
        ExecutorService threads = KeepAliveSetup.serverThreads();
        try {
            HttpServer server = KeepAliveSetup.server(threads);
            server.stop(0);
            Method noDelay = Class.forName("sun.net.httpserver.ServerConfig").getDeclaredMethod("noDelay");
            noDelay.setAccessible(true);
            System.out.println("noDelay=" + noDelay.invoke(null));
        } catch (RuntimeException e) {
            System.out.println("failed: " + e.getMessage());
        } finally {
            threads.shutdownNow();
        }
    }
}
