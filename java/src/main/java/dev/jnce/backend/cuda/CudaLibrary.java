package dev.jnce.backend.cuda;

import dev.jnce.JnceException;
import dev.jnce.Tensor;
import dev.jnce.bindings.JnceNative;
import dev.jnce.internal.NativeFiles;
import dev.jnce.internal.NativeLibrary;
import dev.jnce.internal.NativeStatus;

import java.lang.foreign.Arena;

/**
 * Loads libjnce_cuda.so once per JVM and turns its statuses into exceptions.
 *
 * <p>Where from: the file or folder named by the system property {@code jnce.cuda.library.path}
 * or the environment variable {@code JNCE_CUDA_LIBRARY_PATH}; else the copy packaged in the jar
 * beside libjnce.so (present only when the jar was built where nvcc was found), unpacked into the
 * same cache folder ({@link NativeFiles}). The library links
 * the CUDA runtime statically and opens cuBLAS itself on the first GEMM, from the property
 * {@code jnce.cublas.path}, the environment variable {@code JNCE_CUBLAS_PATH}, or the system.
 */
public final class CudaLibrary {
    public static final String PATH_PROPERTY = "jnce.cuda.library.path";
    public static final String PATH_ENV = "JNCE_CUDA_LIBRARY_PATH";
    public static final String CUBLAS_PROPERTY = "jnce.cublas.path";
    private static final String LIBRARY_FILE = "libjnce_cuda.so";

    private static String loadedFrom;
    private static Throwable failure;

    private CudaLibrary() {
    }

    /** Loads the library if needed; throws {@link UnsatisfiedLinkError} with the reason if it cannot. */
    public static synchronized void load() {
        if (loadedFrom != null) return;
        if (failure != null) throw linkError("an earlier attempt failed: " + failure.getMessage(), failure);
        try {
            loadedFrom = doLoad();
            String cublas = System.getProperty(CUBLAS_PROPERTY);
            if (cublas != null && !cublas.isBlank()) {
                try (Arena arena = Arena.ofConfined()) {
                    check(JnceNative.jnce_cuda_set_cublas_path(arena.allocateFrom(cublas)), "set_cublas_path");
                }
            }
        } catch (Throwable t) {
            failure = t;
            throw t instanceof UnsatisfiedLinkError e ? e : linkError(t.getMessage(), t);
        }
    }

    /** Where the library was loaded from, or null before a successful {@link #load()}. */
    public static synchronized String loadedFrom() {
        return loadedFrom;
    }

    /**
     * Throws unless {@code code} is OK: {@link IllegalArgumentException} for INVALID_ARG,
     * {@link JnceException} otherwise; the message carries the op, the tensors and CUDA's text.
     */
    public static void check(int code, String op, Object... namesAndTensors) {
        if (code == JnceNative.JNCE_OK()) return;
        StringBuilder b = new StringBuilder("jnce_cuda_").append(op).append(" failed (").append(NativeStatus.of(code))
                .append(", status ").append(code).append(')');
        for (int i = 0; i + 1 < namesAndTensors.length; i += 2) {
            b.append(i == 0 ? " for " : ", ").append(namesAndTensors[i]).append(' ')
                    .append(((Tensor) namesAndTensors[i + 1]).describe());
        }
        String message = b.append(": ").append(lastError()).toString();
        if (NativeStatus.of(code) == NativeStatus.INVALID_ARG) throw new IllegalArgumentException(message);
        throw new JnceException(message);
    }

    /** The calling thread's last CUDA-side error message. */
    public static String lastError() {
        return NativeStatus.string(JnceNative::jnce_cuda_last_error);
    }

    private static String doLoad() {
        String overridden = NativeLibrary.loadOverride(PATH_PROPERTY, PATH_ENV, LIBRARY_FILE);
        if (overridden != null) return overridden;
        if (!NativeFiles.packaged(LIBRARY_FILE)) {
            throw linkError("this jnce jar has no CUDA library (" + NativeFiles.resourceFolder() + LIBRARY_FILE
                    + "; it is built only where nvcc is found); set " + PATH_PROPERTY + " to a " + LIBRARY_FILE
                    + " built from native/", null);
        }
        NativeFiles.Unpacked files = NativeFiles.unpack(LIBRARY_FILE);
        try {
            System.load(files.folder().resolve(LIBRARY_FILE).toString());
        } finally {
            if (files.temporary()) NativeFiles.deleteTemporary(files.folder());
        }
        return files.folder().resolve(LIBRARY_FILE) + ", " + files.how();
    }

    private static UnsatisfiedLinkError linkError(String message, Throwable cause) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("jnce CUDA library: " + message);
        if (cause != null) e.initCause(cause);
        return e;
    }
}
