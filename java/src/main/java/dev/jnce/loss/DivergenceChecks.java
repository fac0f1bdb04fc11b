package dev.jnce.loss;

import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.Kernels;
import dev.jnce.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;

/** Argument checks shared by {@link KlDiv}, {@link Entropy} and {@link Perplexity}. */
final class DivergenceChecks {
    private DivergenceChecks() {
    }

    /** Open, on the backend's device, float32, at least one value. */
    static void floats(String argument, Tensor t, Kernels k) {
        Checks.usable(argument, t, k);
        Checks.dtype(argument, t, DType.FLOAT32);
        if (t.numel() == 0) {
            throw new IllegalArgumentException(argument + ": empty tensor " + t.describe() + "; expected at least one value");
        }
    }

    /** other has exactly reference's shape. */
    static void sameShape(String argument, Tensor other, String referenceName, Tensor reference) {
        if (!Arrays.equals(other.shape(), reference.shape())) {
            throw new IllegalArgumentException(argument + ": shape " + Tensor.formatShape(other.shape())
                    + " does not match " + referenceName + " " + Tensor.formatShape(reference.shape())
                    + "; expected the same shape");
        }
    }

    /** A float32 (N, C) tensor of probabilities with N, C >= 1 (the values are checked by {@link #distributions}). */
    static void rows(String argument, Tensor t, Kernels k) {
        floats(argument, t, k);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected shape (N, C), one distribution per row, got "
                    + Tensor.formatShape(t.shape()) + (t.rank() == 1 ? "; for a single distribution use shape (1, C)" : ""));
        }
    }

    /**
     * Every row of the (N, C) tensor is a probability distribution: entries finite and
     * non-negative, summing (in double) to 1 within tolerance. Names the first row that is not.
     */
    static void distributions(String argument, Tensor t, double tolerance) {
        MemorySegment s = t.segment();
        long n = t.size(0), c = t.size(1);
        for (long i = 0; i < n; i++) {
            double sum = 0;
            for (long j = 0; j < c; j++) {
                float v = s.getAtIndex(ValueLayout.JAVA_FLOAT, i * c + j);
                if (!(v >= 0) || v == Float.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException(argument + "[" + i + ", " + j + "] = " + v + " in row " + i
                            + " of " + t.describe() + ": a probability must be finite and >= 0");
                }
                sum += v;
            }
            if (!(Math.abs(sum - 1) <= tolerance)) {
                throw new IllegalArgumentException(argument + ": row " + i + " of " + t.describe() + " sums to "
                        + String.format(Locale.ROOT, "%.7g", sum) + ", expected 1 within " + tolerance
                        + " (each row must be a probability distribution)");
            }
        }
    }

    static void tolerance(double tolerance) {
        if (!(tolerance >= 0)) {
            throw new IllegalArgumentException("tolerance: " + tolerance + " must be >= 0 (Double.POSITIVE_INFINITY "
                    + "skips the row-sum check)");
        }
    }
}
