/**
 * The Portkeeper test kit: JUnit Jupiter assertions and an extension that check a test's sockets
 * against the kernel's own table ({@code /proc/net/tcp}, {@code /proc/net/tcp6}).
 */
package io.github.portkeeper.test;
