package dev.jnce.metrics;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Tensor;

import java.util.Arrays;

/** Argument checks of the metrics that read tensors on the host. */
final class MetricChecks {
    private MetricChecks() {
    }

    /** A non-null, open host tensor of shape (N) and one of these dtypes. */
    static void hostVector(String argument, Tensor t, DType... dtypes) {
        host(argument, t, dtypes);
        if (t.rank() != 1) {
            throw new IllegalArgumentException(argument + ": expected shape (N), got " + Tensor.formatShape(t.shape()));
        }
    }

    /** A non-null, open host tensor of one of these dtypes. */
    static void host(String argument, Tensor t, DType... dtypes) {
        if (t == null) throw new IllegalArgumentException(argument + ": must not be null");
        t.requireOpen(argument);
        if (!t.device().equals(Device.HOST)) {
            throw new IllegalArgumentException(argument + ": tensor " + t.describe() + " is on " + t.device()
                    + "; metrics read host tensors (copy it with tensor.to(Device.HOST))");
        }
        if (!Arrays.asList(dtypes).contains(t.dtype())) {
            throw new IllegalArgumentException(argument + ": expected " + (dtypes.length == 1 ? dtypes[0] : Arrays.toString(dtypes))
                    + ", got " + t.describe());
        }
    }

    /** sets has one row per query of a matrix of n rows, and its items are below m (m &lt; 0: any). */
    static void itemSets(String argument, ItemSets sets, long n, long m, String against) {
        if (sets == null) throw new IllegalArgumentException(argument + ": must not be null");
        if (sets.rows() != n) {
            throw new IllegalArgumentException(argument + ": expected " + n + " rows, one per row of " + against + ", got "
                    + sets.rows());
        }
        if (m >= 0 && sets.maxItem() >= m) {
            throw new IllegalArgumentException(argument + ": item " + sets.maxItem() + " is outside [0, " + m + ") of " + against);
        }
    }
}
