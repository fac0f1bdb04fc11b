package dev.jnce.internal;

import java.io.IOException;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * Loads libjnce.so once per JVM.
 *
 * <p>Where from, in order: the file or folder named by the system property
 * {@code jnce.library.path} or the environment variable {@code JNCE_LIBRARY_PATH} (its
 * OpenBLAS is found through its own RPATH or the system); else the copy packaged in jnce's jar
 * under {@code dev/jnce/native/<platform>/}, with the OpenBLAS packaged beside it, unpacked once
 * into a cache folder that later JVMs reuse ({@link NativeFiles}); libjnce.so finds that
 * OpenBLAS beside it through its RPATH ({@code $ORIGIN}). Where the cache folder cannot be written
 * or does not allow executables, a private temporary folder is used and deleted once loaded.
 *
 * <p>What was loaded must define every function the caller binds: a library that does not (a
 * {@code jnce.library.path} naming another library, or a libjnce.so of another version) is
 * refused with the functions it lacks, before any binding is used. Every failure's message names
 * what was tried and why it failed (the folders and their errors included).
 */
public final class NativeLibrary {
    public static final String PATH_PROPERTY = "jnce.library.path";
    public static final String PATH_ENV = "JNCE_LIBRARY_PATH";
    private static final String LIBRARY_FILE = "libjnce.so";

    private static volatile String loadedFrom;
    private static volatile Throwable failure;

    private NativeLibrary() {
    }

    /** The platform folder name, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "macosx" : os.startsWith("windows") ? "windows" : os;
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch.equals("aarch64") ? "arm64" : arch;
        return osName + "-" + archName;
    }

    /**
     * Loads the library if needed and checks that it defines every function named in
     * {@code requiredFunctions}; throws {@link UnsatisfiedLinkError} with the reason if it cannot.
     */
    public static synchronized void load(Collection<String> requiredFunctions) {
        if (loadedFrom != null) return;
        if (failure != null) throw linkError("an earlier attempt failed: " + failure.getMessage(), failure);
        try {
            String from = doLoad();
            requireFunctions(from, requiredFunctions);
            loadedFrom = from;
        } catch (Throwable t) {
            failure = t;
            throw t instanceof UnsatisfiedLinkError e ? e : linkError(t.getMessage(), t);
        }
    }

    /**
     * Where the library was loaded from and the OpenBLAS file it uses (or "of the system"), or null
     * before a successful {@link #load}.
     */
    public static String loadedFrom() {
        String from = loadedFrom;
        if (from == null) return null;
        String openBlas = mappedFile("libopenblas.so.0");
        return from + "; OpenBLAS " + (openBlas == null ? "of the system" : openBlas);
    }

    private static String doLoad() {
        shortenOpenBlasSpin();
        String overridden = loadOverride(PATH_PROPERTY, PATH_ENV, LIBRARY_FILE);
        if (overridden != null) return overridden;
        if (!NativeFiles.packaged(LIBRARY_FILE)) {
            throw linkError("this jnce jar has no native library for " + platform() + " (looked for "
                    + NativeFiles.resourceFolder() + LIBRARY_FILE + "); set " + PATH_PROPERTY + " to a libjnce.so built from native/", null);
        }
        NativeFiles.Unpacked files = NativeFiles.unpack(LIBRARY_FILE);
        try {
            System.load(files.folder().resolve(LIBRARY_FILE).toString());
        } catch (UnsatisfiedLinkError e) {
            if (needsNewerGlibc(e)) return loadWithSystemOpenBlas(files, e);
            if (!String.valueOf(e.getMessage()).contains("failed to map segment")) throw e;
            if (files.temporary()) throw noExec(files, e);
            // a cache folder on a file system mounted noexec: the temporary folder may allow executables
            String why = "the cache folder " + files.folder() + " (" + NativeFiles.CACHE_PROPERTY
                    + ") does not allow executables (mounted noexec?)";
            files = NativeFiles.unpackTemporary(LIBRARY_FILE, why);
            try {
                System.load(files.folder().resolve(LIBRARY_FILE).toString());
            } catch (UnsatisfiedLinkError again) {
                throw String.valueOf(again.getMessage()).contains("failed to map segment") ? noExec(files, again) : again;
            }
        } finally {
            if (files.temporary()) NativeFiles.deleteTemporary(files.folder());
        }
        return files.folder().resolve(LIBRARY_FILE) + ", " + files.how();
    }

    /**
     * Whether a load failed because a bundled file needs a newer glibc than this system's: libjnce.so
     * itself needs only glibc 2.17, but the bundled OpenBLAS 0.3.30 and its GCC runtime were built on
     * a newer system (libopenblas.so.0 and libgfortran.so.5: glibc 2.34; libgcc_s.so.1: 2.35).
     */
    static boolean needsNewerGlibc(UnsatisfiedLinkError e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("GLIBC_") && m.contains("not found");
    }

    /**
     * The bundled OpenBLAS or its GCC runtime needs a newer glibc: loads this system's libgcc_s.so.1
     * and libopenblas.so.0 (where present) by their names first, so that libjnce.so uses them instead
     * of the bundled files, and loads libjnce.so again. Throws the reason, with what to install, when
     * that fails too.
     */
    private static String loadWithSystemOpenBlas(NativeFiles.Unpacked files, UnsatisfiedLinkError first) {
        List<String> found = new java.util.ArrayList<>();
        for (String name : List.of("libgcc_s.so.1", "libopenblas.so.0")) {
            try {
                SymbolLookup.libraryLookup(name, java.lang.foreign.Arena.global());
                found.add(name);
            } catch (IllegalArgumentException | IllegalCallerException notThere) {
                // not installed on this system: the bundled file is tried
            }
        }
        try {
            System.load(files.folder().resolve(LIBRARY_FILE).toString());
        } catch (UnsatisfiedLinkError again) {
            UnsatisfiedLinkError e = linkError("the OpenBLAS bundled in jnce's jar needs a newer C library than this system's "
                    + "(glibc 2.34; libjnce.so itself needs 2.17) and " + (found.contains("libopenblas.so.0")
                    ? "this system's libopenblas.so.0 did not load either (" + again.getMessage() + ")"
                    : "this system has no libopenblas.so.0: install its OpenBLAS (libopenblas0, openblas) for the cpu backend")
                    + "; first error: " + first.getMessage(), again);
            e.addSuppressed(first);
            throw e;
        }
        return files.folder().resolve(LIBRARY_FILE) + ", " + files.how() + ", with this system's " + String.join(" and ", found)
                + " (the bundled OpenBLAS needs a newer glibc)";
    }

    private static UnsatisfiedLinkError noExec(NativeFiles.Unpacked files, UnsatisfiedLinkError e) {
        return linkError(e.getMessage() + "; the folder " + files.folder().getParent()
                + " may not allow executables (mounted noexec): " + NativeFiles.advice(), e);
    }

    /**
     * The path of the mapped file called {@code name} in this process (from /proc/self/maps; a
     * temporary folder's file is mapped though deleted), or null when none is mapped or the maps
     * cannot be read (not Linux).
     */
    public static String mappedFile(String name) {
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.map(l -> l.indexOf('/') < 0 ? "" : l.substring(l.indexOf('/')))
                    .map(p -> p.endsWith(" (deleted)") ? p.substring(0, p.length() - " (deleted)".length()) : p)
                    .filter(p -> p.endsWith("/" + name)).findFirst().orElse(null);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Checks that the library loaded from {@code from} defines every function in {@code names};
     * throws {@link UnsatisfiedLinkError} naming what was loaded and the functions it lacks.
     */
    private static void requireFunctions(String from, Collection<String> names) {
        SymbolLookup lookup = SymbolLookup.loaderLookup();
        List<String> missing = names.stream().filter(n -> lookup.find(n).isEmpty()).toList();
        if (missing.isEmpty()) return;
        String listed = missing.size() <= 4 ? String.join(", ", missing)
                : String.join(", ", missing.subList(0, 4)) + ", ...";
        String how = missing.size() == names.size() ? "all " + names.size() : missing.size() + " of the " + names.size();
        throw linkError(from + " loaded, but it lacks " + how + " functions jnce calls (symbol lookup failed for " + listed + "): it is not a libjnce.so, or one built from "
                + "another version of jnce's native/; point " + PATH_PROPERTY + " at the libjnce.so of this version, or unset it",
                null);
    }

    /**
     * OpenBLAS's idle workers spin for about 2^28 cycles after every call; on a small machine
     * that steals the cores jnce's own kernels run on between two GEMMs (InfoNCE's cross-entropy
     * ran 25% slower). Unless the user chose a value, ask for the shortest spin (2^4 cycles)
     * before OpenBLAS is loaded, which is when it reads the variable.
     */
    private static void shortenOpenBlasSpin() {
        if (System.getenv("OPENBLAS_THREAD_TIMEOUT") != null) return;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
            var setenv = linker.defaultLookup().find("setenv").map(address -> linker.downcallHandle(address,
                    java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                            java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.ADDRESS,
                            java.lang.foreign.ValueLayout.JAVA_INT)));
            if (setenv.isPresent()) {
                setenv.get().invoke(arena.allocateFrom("OPENBLAS_THREAD_TIMEOUT"), arena.allocateFrom("4"), 0);
            }
        } catch (Throwable ignored) {
            // only a speed hint: without it OpenBLAS keeps its default
        }
    }

    /**
     * Loads {@code file} from the file or folder named by the system property or environment
     * variable, if either is set; returns the path loaded, or null when neither is set.
     */
    public static String loadOverride(String property, String env, String file) {
        String override = System.getProperty(property, System.getenv(env));
        if (override == null || override.isBlank()) return null;
        Path path = Path.of(override);
        if (Files.isDirectory(path)) path = path.resolve(file);
        if (!Files.isRegularFile(path)) {
            throw new UnsatisfiedLinkError(property + "/" + env + " names " + override + ", which holds no " + file);
        }
        System.load(path.toAbsolutePath().toString());
        return path.toAbsolutePath().toString();
    }

    private static UnsatisfiedLinkError linkError(String message, Throwable cause) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("jnce native library: " + message);
        if (cause != null) e.initCause(cause);
        return e;
    }

    /**
     * The error a failed load becomes, its message saying why in the user's terms: native access
     * denied, no native build for this OS/architecture, a C library too old, OpenBLAS missing.
     */
    public static UnsatisfiedLinkError diagnosed(Throwable t) {
        String m = String.valueOf(t.getMessage());
        String why;
        if (t instanceof IllegalCallerException || m.contains("enable-native-access") || m.contains("native access")) {
            why = "native access is denied to jnce: start the JVM with --enable-native-access=ALL-UNNAMED "
                    + "(class path) or --enable-native-access=dev.jnce,dev.jnce.bindings (module path)";
        } else if (m.contains("has no native library")) {
            UnsatisfiedLinkError e = new UnsatisfiedLinkError("this jnce jar has no native library for " + platform()
                    + " (a java-only build, or a platform without a native build); set " + PATH_PROPERTY
                    + " to a libjnce.so built from native/ to use one");
            e.initCause(t);
            return e;
        } else if (!platform().equals("linux-x86_64")) {
            why = "jnce has no native build for " + platform() + " (only linux-x86_64)";
        } else if (m.contains("GLIBC")) {
            why = "the system C library is older than jnce's native files need (libjnce.so: glibc 2.17; the bundled "
                    + "OpenBLAS: 2.34, or this system's libopenblas.so.0 where installed)";
        } else if (m.contains("openblas")) {
            why = "OpenBLAS is missing: a libjnce.so named by " + PATH_PROPERTY + " finds libopenblas.so.0 beside it "
                    + "or on the system (install libopenblas0)";
        } else {
            why = "the native library did not load";
        }
        UnsatisfiedLinkError e = new UnsatisfiedLinkError(why + " (" + m + ")");
        e.initCause(t);
        return e;
    }
}
