/** Micrometer binding for RPC clients (optional: needs micrometer-core and resilience4j-micrometer). */
package io.github.portkeeper.rpc.micrometer;
