package dev.jnce.backend.java;

/**
 * Finds out whether the Vector API can be used, without touching its classes when it cannot
 * (they are absent unless the JVM was started with --add-modules jdk.incubator.vector).
 */
final class VectorSupport {
    private static final String MODULE = "jdk.incubator.vector";

    private VectorSupport() {
    }

    static boolean present() {
        return ModuleLayer.boot().findModule(MODULE).isPresent();
    }

    /** The SIMD row primitives, or null when the module is absent or fails to link. */
    static RowOps rowOps() {
        if (!present()) return null;
        try {
            return VectorRowOps.INSTANCE;
        } catch (LinkageError e) {
            return null;
        }
    }

    static String describe() {
        return "Vector API " + VectorRowOps.describe();
    }

    static String whyNot(boolean allowed) {
        if (!allowed) return " (Vector API turned off)";
        return present() ? "" : " (start the JVM with --add-modules " + MODULE + " for SIMD)";
    }
}
