/**
 * The few interfaces the core ({@code dev.jnce}) needs from backends without importing them:
 * device memory, thread-count changes, and the argument names of the call a thread is making. Backends are found by class name (see
 * {@link dev.jnce.Backends}); they implement these. Not exported.
 */
package dev.jnce.spi;
