package io.github.portkeeper.spring.boot.common.internal;

import org.apache.hc.core5.util.VersionInfo;
import org.springframework.boot.SpringBootVersion;
import org.springframework.context.ApplicationContextInitializer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.Ordered;

/**
 * Fails startup, before any bean is defined, when a starter finds itself on a Spring Boot line
 * it was not built for, or on an Apache HttpClient older than portkeeper-http needs. Without it
 * the application would fail later and obscurely (a {@code NoSuchMethodError}, a bean that
 * "could not be registered"); with it, {@link StartupFailureAnalyzer} prints the version found
 * and what to use instead.
 *
 * <p>Only classes present on every Boot line are used here, so the check itself always loads.
 * Each starter registers a subclass in its {@code META-INF/spring.factories}.
 */
public abstract class StartupCheck implements ApplicationContextInitializer<ConfigurableApplicationContext>, Ordered {

    /**
     * The oldest HttpClient and HttpCore lines portkeeper-http is tested on: the ones Boot 3.5 and
     * 4.0 manage (it is built against 5.6 and 5.4, which Boot 4.1 manages).
     */
    static final String HTTPCLIENT_NEEDED = "5.5";
    static final String HTTPCORE_NEEDED = "5.3";
    /** The versions the build uses; suggested to applications that have older ones. */
    static final String HTTPCLIENT_TESTED = "5.6.5";
    static final String HTTPCORE_TESTED = "5.4.4";

    private final String artifact;
    private final String supportedLines;

    /**
     * @param artifact       the starter's artifact id
     * @param supportedLines the Boot lines it supports, for messages ({@code "4.0 and 4.1"})
     */
    protected StartupCheck(String artifact, String supportedLines) {
        this.artifact = artifact;
        this.supportedLines = supportedLines;
    }

    /**
     * Whether the starter runs on this Boot version.
     *
     * @param major the Boot major version
     * @param minor the Boot minor version
     * @return true when supported
     */
    protected abstract boolean supports(int major, int minor);

    /**
     * The artifact to use on a Boot version this starter does not support.
     *
     * @param major the Boot major version
     * @param minor the Boot minor version
     * @return advice naming the right artifact or Boot version
     */
    protected abstract String advice(int major, int minor);

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }

    @Override
    public void initialize(ConfigurableApplicationContext context) {
        checkBoot(SpringBootVersion.getVersion());
        // Read as the auto-configuration reads them: portkeeper.http.enabled=off skips the check too.
        boolean http = Switches.isOn(context.getEnvironment(), "portkeeper.enabled", true)
                && Switches.isOn(context.getEnvironment(), "portkeeper.http.enabled", true);
        if (http) {
            ClassLoader loader = context.getClassLoader() != null ? context.getClassLoader() : getClass().getClassLoader();
            checkHttpClient(release("org.apache.hc.client5", loader), release("org.apache.hc.core5", loader));
        }
    }

    /**
     * Throws when {@code bootVersion} is on a line this starter does not support.
     *
     * @param bootVersion Spring Boot's version, or null when unknown (then nothing is checked)
     * @throws StartupFailureException naming the version found and the artifact to use
     */
    void checkBoot(String bootVersion) {
        int[] v = parse(bootVersion);
        if (v == null || supports(v[0], v[1])) {
            return;
        }
        throw new StartupFailureException(
                artifact + " supports Spring Boot " + supportedLines + ", but this application runs Spring Boot " + bootVersion + ".",
                advice(v[0], v[1]));
    }

    /**
     * Throws when HttpClient or HttpCore is older than portkeeper-http needs.
     *
     * @param client the httpclient5 release on the class path, or null when unknown
     * @param core   the httpcore5 release on the class path, or null when unknown
     * @throws StartupFailureException naming the versions found and the versions to use
     */
    void checkHttpClient(String client, String core) {
        boolean oldClient = older(client, HTTPCLIENT_NEEDED);
        boolean oldCore = older(core, HTTPCORE_NEEDED);
        if (!oldClient && !oldCore) {
            return;
        }
        String boot = SpringBootVersion.getVersion();
        throw new StartupFailureException(
                "Portkeeper's pooled HttpClient needs Apache HttpClient " + HTTPCLIENT_NEEDED + " or later and HttpCore "
                        + HTTPCORE_NEEDED + " or later, but this application has HttpClient " + client + " and HttpCore " + core
                        + (boot != null ? " (Spring Boot " + boot + " or a dependency override chose them)" : "") + ".",
                "Use the versions Spring Boot manages, or raise them: with spring-boot-starter-parent or spring-boot-dependencies set the "
                        + "Maven properties httpclient5.version=" + HTTPCLIENT_TESTED + " and httpcore5.version=" + HTTPCORE_TESTED
                        + " (Gradle: ext['httpclient5.version'] and ext['httpcore5.version']). Or turn the pooled HTTP client off "
                        + "with portkeeper.http.enabled=false.");
    }

    private static String release(String pckg, ClassLoader loader) {
        try {
            VersionInfo info = VersionInfo.loadVersionInfo(pckg, loader);
            return info != null && !VersionInfo.UNAVAILABLE.equals(info.getRelease()) ? info.getRelease() : null;
        } catch (LinkageError | RuntimeException e) {
            return null;
        }
    }

    /** Whether {@code version} is known and older than {@code needed} (major.minor). */
    static boolean older(String version, String needed) {
        int[] v = parse(version);
        int[] n = parse(needed);
        return v != null && (v[0] < n[0] || (v[0] == n[0] && v[1] < n[1]));
    }

    /** Major and minor of a version such as {@code 4.0.7} or {@code 5.6-beta1}, or null. */
    static int[] parse(String version) {
        if (version == null) {
            return null;
        }
        String[] parts = version.split("[.\\-]");
        try {
            return new int[] {Integer.parseInt(parts[0]), parts.length > 1 ? Integer.parseInt(parts[1]) : 0};
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
