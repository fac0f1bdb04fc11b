package dev.jnce.loss;

import dev.jnce.Tensor;

/** The tensors a loss allocates for its caller: closed again when the call fails, so a rejected call leaks nothing. */
final class Outputs {
    private Outputs() {
    }

    /** Closes every non-null tensor the failed call made and returns {@code e} for the caller to throw. */
    static RuntimeException closeAndRethrow(RuntimeException e, Tensor... made) {
        for (Tensor t : made) if (t != null) t.close();
        return e;
    }
}
