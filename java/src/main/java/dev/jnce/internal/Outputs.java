package dev.jnce.internal;

import dev.jnce.Tensor;

/**
 * The tensors an op or loss allocates in one call (its outputs and scratch): closed again when the
 * call fails, whatever failed — a check or kernel that rejects a value, a native error, an
 * allocation that runs out of memory — so that a rejected call leaks nothing. The form every
 * allocating method takes:
 *
 * <pre>{@code
 * Tensor loss = null, grad = null;
 * try {
 *     loss = ...; grad = ...;
 *     kernel(..., loss, grad);
 *     return new LossResult(loss, grad);
 * } catch (RuntimeException | Error e) {
 *     throw Outputs.closeAndRethrow(e, loss, grad);
 * }
 * }</pre>
 */
public final class Outputs {
    private Outputs() {
    }

    /**
     * Closes every non-null tensor the failed call made and hands back {@code failure} for the
     * caller to throw (an {@link Error} is thrown from here). A tensor that fails to close adds
     * its exception to the failure as suppressed; the failure stays the one reported.
     *
     * @param failure a RuntimeException or an Error
     */
    public static RuntimeException closeAndRethrow(Throwable failure, Tensor... made) {
        for (Tensor t : made) {
            if (t == null) continue;
            try {
                t.close();
            } catch (RuntimeException | Error e) {
                failure.addSuppressed(e);
            }
        }
        if (failure instanceof Error e) throw e;
        if (failure instanceof RuntimeException e) return e;
        throw new IllegalStateException("closeAndRethrow takes a RuntimeException or an Error", failure);
    }
}
