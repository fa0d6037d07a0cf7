/** Implementation of the rpc module. Not public API: it may change in any release. */
package io.github.portkeeper.rpc.internal;
