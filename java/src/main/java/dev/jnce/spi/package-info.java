/**
 * The few interfaces the core ({@code dev.jnce}) needs from backends without importing them:
 * device memory and thread-count changes. Backends are found by class name (see
 * {@link dev.jnce.Backends}); they implement these. Not exported.
 */
package dev.jnce.spi;
