package io.github.portkeeper.http.internal;

import io.github.resilience4j.core.functions.CheckedSupplier;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import org.apache.hc.client5.http.classic.ExecChain;
import org.apache.hc.client5.http.classic.ExecChainHandler;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ConnectionClosedException;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.NoHttpResponseException;
import org.apache.hc.core5.http.ParseException;
import org.apache.hc.core5.http.io.support.ClassicRequestBuilder;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.net.URIAuthority;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.time.Duration;
import java.util.Set;

/**
 * Retries, through a Resilience4j {@link Retry}, an idempotent request that failed because the
 * reused connection it went out on was dead: no response came back (the server had closed or
 * reset the connection as we sent), or what came back could not be parsed as a response head
 * ({@link ParseException}: stray bytes on the connection). The retry goes out on a fresh connection;
 * with more than two attempts configured, a retry that again gets no response is retried in
 * turn, on another fresh connection. Anything else, a first attempt on a fresh connection, and
 * any non-idempotent request, is never re-sent.
 */
public final class DeadConnectionRetryExec implements ExecChainHandler {

    private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE");

    private final Retry retry;

    public DeadConnectionRetryExec(Retry retry) {
        this.retry = retry;
    }

    /** Two attempts (one retry), at once: the retry takes a fresh connection, so there is nothing to wait for. */
    public static RetryConfig defaultConfig() {
        return RetryConfig.custom().maxAttempts(2).waitDuration(Duration.ofMillis(0)).build();
    }

    /** The user's config, restricted to the one failure this handler retries. */
    public static RetryConfig restrict(RetryConfig config) {
        return RetryConfig.from(config)
                .retryOnException(t -> t instanceof DeadConnection)
                .retryExceptions()
                .ignoreExceptions(NotRetried.class)
                .retryOnResult(r -> false)
                .build();
    }

    @Override
    public ClassicHttpResponse execute(ClassicHttpRequest request, ExecChain.Scope scope, ExecChain chain)
            throws IOException, HttpException {
        if (!isIdempotent(request)) {
            return chain.proceed(request, scope);
        }
        // The request as this step got it, with what the steps above added (HttpClient's
        // Accept-Encoding, a customizer's exec interceptors): each retry sends that, not the
        // caller's untouched request (scope.originalRequest). The protocol step below changes
        // the request in place (its headers, scheme and authority; its entity, wrapped), so
        // those are kept here; a whole copy of the request would cost every call, not only
        // the rare retry.
        String scheme = request.getScheme();
        URIAuthority authority = request.getAuthority();
        Header[] headers = request.getHeaders();
        HttpEntity entity = request.getEntity();
        int[] attempts = {0};
        CheckedSupplier<ClassicHttpResponse> attempt = () -> {
            boolean first = attempts[0]++ == 0;
            ClassicHttpRequest current = first ? request : ClassicRequestBuilder.copy(request)
                    .setScheme(scheme).setAuthority(authority).setHeaders(headers).setEntity(entity).build();
            HttpContext context = scope.clientContext;
            context.removeAttribute(PooledEndpoint.REUSED_ATTRIBUTE);
            if (!first) {
                FreshConnection.require();
            }
            try {
                return chain.proceed(current, scope);
            } catch (IOException e) {
                // A retry runs on a new connection: one that again got no response (a server
                // restarting, say) is retried while attempts remain, as maxAttempts says. A
                // first attempt on a new connection is not: that is no dead pooled connection.
                if (!scope.execRuntime.isExecutionAborted() && (!first || wasReused(context)) && noResponse(e)) {
                    throw new DeadConnection(e);
                }
                throw new NotRetried(e);
            } catch (ParseException e) {
                // Garbage where a response head should be, on a reused connection: stray bytes
                // left from before, a dead connection as far as this request is concerned. No
                // byte of a response reached the caller (that happens only on success).
                if (!scope.execRuntime.isExecutionAborted() && wasReused(context)) {
                    throw new DeadConnection(e);
                }
                throw new NotRetried(e);
            } catch (HttpException | RuntimeException e) {
                throw new NotRetried(e);
            } finally {
                if (!first) { // only a retry asked for one
                    FreshConnection.clear();
                }
            }
        };
        try {
            return Retry.decorateCheckedSupplier(retry, attempt).get();
        } catch (DeadConnection e) {
            if (e.getCause() instanceof HttpException) {
                throw (HttpException) e.getCause();
            }
            throw (IOException) e.getCause();
        } catch (NotRetried e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException) {
                throw (IOException) cause;
            }
            if (cause instanceof HttpException) {
                throw (HttpException) cause;
            }
            throw (RuntimeException) cause;
        } catch (IOException | HttpException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static boolean isIdempotent(ClassicHttpRequest request) {
        if (!IDEMPOTENT.contains(request.getMethod().toUpperCase(java.util.Locale.ROOT))) {
            return false;
        }
        HttpEntity entity = request.getEntity();
        return entity == null || entity.isRepeatable();
    }

    private static boolean wasReused(HttpContext context) {
        return Boolean.TRUE.equals(context.getAttribute(PooledEndpoint.REUSED_ATTRIBUTE));
    }

    /**
     * No response came back on a connection that had been established: the server closed or
     * reset it. Not a failure to connect (those are subclasses of {@link SocketException} too).
     */
    private static boolean noResponse(IOException e) {
        if (e instanceof ConnectException || e instanceof NoRouteToHostException || e instanceof BindException) {
            return false;
        }
        return e instanceof NoHttpResponseException
                || e instanceof ConnectionClosedException
                || e instanceof SocketException
                || e instanceof java.io.EOFException;
    }

    /** The one failure that is retried. */
    static final class DeadConnection extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DeadConnection(Exception cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }

    /** Everything else, carried through the retry untouched. */
    static final class NotRetried extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NotRetried(Throwable cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }
}
