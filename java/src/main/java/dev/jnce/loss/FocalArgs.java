package dev.jnce.loss;

/** Option checks shared by the focal losses. */
final class FocalArgs {
    private FocalArgs() {
    }

    /** gamma is finite and >= 0. */
    static float gamma(float gamma) {
        if (!(gamma >= 0) || Float.isInfinite(gamma)) {
            throw new IllegalArgumentException("gamma: must be finite and >= 0, got " + gamma);
        }
        return gamma;
    }
}
