package dev.jnce.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The native files packaged in jnce's jar under {@code dev/jnce/native/<platform>/} (libjnce.so,
 * OpenBLAS and the GCC runtime it links against, libjnce_cuda.so where it was built), unpacked
 * once per content into a cache folder that every later JVM reuses.
 *
 * <p>The build lists them in {@code files.sha256} beside them, one {@code <sha256> <bytes> <name>}
 * a line. They are looked up through this class, so jnce's own module holds them on the module
 * path as on the class path. The cache folder is {@code <root>/<16 hex digits hashing the
 * list>/}, so jars of other content never share files; the root is the system property
 * {@code jnce.cache.dir}, else the environment variable {@code JNCE_CACHE_DIR}, else
 * {@code $XDG_CACHE_HOME/jnce}, else {@code ~/.cache/jnce}. A file already there with its listed
 * size is reused; a missing one is written under a temporary name in that folder, checked against
 * its SHA-256 and renamed into place atomically, so JVMs that start together each see a whole
 * file or none. Where the cache folder cannot be written, the files go to a new private folder
 * under {@code java.io.tmpdir}, which the caller deletes once the library is loaded.
 */
public final class NativeFiles {
    public static final String CACHE_PROPERTY = "jnce.cache.dir";
    public static final String CACHE_ENV = "JNCE_CACHE_DIR";
    static final String LIST = "files.sha256";
    private static final String TMPDIR_PROPERTY = "java.io.tmpdir";

    /** One line of the list. */
    record Entry(String sha256, long size, String name) {
    }

    /**
     * Where the files are: {@code folder} holds every file asked for; {@code temporary} says it
     * is a private folder to delete once loaded ({@link #deleteTemporary}); {@code how} says in
     * words where it is and how the files got there, for logs and messages.
     */
    public record Unpacked(Path folder, boolean temporary, String how) {
    }

    private NativeFiles() {
    }

    /** The resource folder of this platform's files, e.g. {@code /dev/jnce/native/linux-x86_64/}. */
    public static String resourceFolder() {
        return "/dev/jnce/native/" + NativeLibrary.platform() + "/";
    }

    /** Whether this jar lists {@code name} for this platform. */
    public static boolean packaged(String name) {
        for (Entry e : list()) {
            if (e.name().equals(name)) return true;
        }
        return false;
    }

    /**
     * Makes the files that loading {@code library} needs present in one folder: the cache folder
     * (reused, or filled now), else a new temporary folder. Throws {@link UnsatisfiedLinkError}
     * naming the folders tried and why each failed.
     */
    public static Unpacked unpack(String library) {
        List<Entry> entries = neededBy(library);
        Path cache = null;
        String cacheFailure;
        try {
            cache = cacheRoot().resolve(key());
            return unpackInto(cache, entries, false);
        } catch (IOException | RuntimeException e) {
            cacheFailure = "the cache folder " + (cache == null ? "" : cache + " ") + "(" + CACHE_PROPERTY + ") cannot be used: " + describe(e);
        }
        Unpacked u = unpackTemporary(entries, cacheFailure);
        log().log(Level.INFO, "jnce native files: {0}; {1}; set {2} to a writable folder so that later JVMs reuse them",
                cacheFailure, u.how(), CACHE_PROPERTY);
        return u;
    }

    /**
     * The files that loading {@code library} needs, in a new private folder under
     * {@code java.io.tmpdir} (after {@code why}, the reason the cache was not used: it goes into
     * the error if this fails too).
     */
    public static Unpacked unpackTemporary(String library, String why) {
        return unpackTemporary(neededBy(library), why);
    }

    /**
     * What loading {@code library} needs: libjnce_cuda.so alone (it links the CUDA runtime
     * statically); libjnce.so with every other file (OpenBLAS and its GCC runtime).
     */
    private static List<Entry> neededBy(String library) {
        boolean cuda = library.startsWith("libjnce_cuda");
        List<Entry> needed = new ArrayList<>();
        for (Entry e : list()) {
            if (cuda ? e.name().equals(library) : !e.name().startsWith("libjnce_cuda")) needed.add(e);
        }
        return needed;
    }

    private static Unpacked unpackTemporary(List<Entry> entries, String why) {
        String tmp = System.getProperty(TMPDIR_PROPERTY);
        Path dir;
        try {
            dir = Files.createTempDirectory("jnce-");
        } catch (IOException | RuntimeException e) {
            throw linkError(why + "; cannot unpack either into the temporary folder " + tmp + " (" + TMPDIR_PROPERTY
                    + "): " + describe(e) + "; " + advice(), e);
        }
        try {
            return unpackInto(dir, entries, true);
        } catch (IOException | RuntimeException e) {
            deleteTemporary(dir);
            throw linkError(why + "; cannot unpack either into the temporary folder " + tmp + " (" + TMPDIR_PROPERTY
                    + "): " + describe(e) + "; " + advice(), e);
        }
    }

    /** What to set when neither folder works. */
    static String advice() {
        return "set " + CACHE_PROPERTY + " or " + TMPDIR_PROPERTY + " to a writable folder that allows executables, or "
                + NativeLibrary.PATH_PROPERTY + " to a libjnce.so";
    }

    private static Unpacked unpackInto(Path dir, List<Entry> entries, boolean temporary) throws IOException {
        long start = System.nanoTime();
        Files.createDirectories(dir);
        List<String> written = new ArrayList<>();
        long bytes = 0;
        for (Entry e : entries) {
            Path target = dir.resolve(e.name());
            if (!temporary && hasSize(target, e.size())) continue;
            write(e, dir, target);
            written.add(e.name());
            bytes += e.size();
        }
        String how;
        if (temporary) {
            how = "unpacked into the temporary folder " + dir + ", deleted once loaded";
        } else if (written.isEmpty()) {
            how = "reused from the cache folder " + dir; // said by the backend's description: no logger started for it
        } else {
            how = "unpacked into the cache folder " + dir;
            log().log(Level.INFO, "jnce native files: unpacked {0} ({1} MB) into {2} in {3} ms; later JVMs reuse them",
                    String.join(", ", written), String.format("%.1f", bytes / 1e6), dir, (System.nanoTime() - start) / 1_000_000);
        }
        return new Unpacked(dir, temporary, how);
    }

    /** The logger, started only when there is something to say (starting it takes 15-30 ms). */
    private static System.Logger log() {
        return System.getLogger("dev.jnce");
    }

    private static boolean hasSize(Path file, long size) {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isRegularFile() && a.size() == size;
        } catch (IOException e) {
            return false;
        }
    }

    /** Copies the resource to a temporary name in {@code dir}, checks its SHA-256, renames it to {@code target}. */
    private static void write(Entry e, Path dir, Path target) throws IOException {
        Path part = Files.createTempFile(dir, "." + e.name() + "-", ".part");
        try {
            MessageDigest sha = sha256();
            try (InputStream in = open(e.name()); OutputStream out = new DigestOutputStream(Files.newOutputStream(part), sha)) {
                in.transferTo(out);
            }
            String got = HexFormat.of().formatHex(sha.digest());
            if (!got.equals(e.sha256())) {
                throw new IOException(resourceFolder() + e.name() + " in the jar has SHA-256 " + got + ", its list says "
                        + e.sha256() + ": the jar is damaged");
            }
            try {
                Files.setPosixFilePermissions(part, PosixFilePermissions.fromString("rwxr-xr-x"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: the default permissions are the only ones
            }
            try {
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (FileAlreadyExistsException raced) {
                // another JVM renamed the same content into place first
            }
        } finally {
            Files.deleteIfExists(part);
        }
    }

    private static InputStream open(String name) throws IOException {
        InputStream in = NativeFiles.class.getResourceAsStream(resourceFolder() + name);
        if (in == null) throw new IOException("the jar lists " + resourceFolder() + name + " but does not hold it");
        return in;
    }

    /** Deletes a temporary folder and what is in it; a folder left behind is harmless. */
    public static void deleteTemporary(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) Files.deleteIfExists(p);
            Files.deleteIfExists(dir);
        } catch (IOException | UncheckedIOException ignored) {
            // a temporary folder left behind is harmless
        }
    }

    /** The cache root, from the property, the environment or the XDG default. */
    static Path cacheRoot() {
        String chosen = System.getProperty(CACHE_PROPERTY, System.getenv(CACHE_ENV));
        if (chosen != null && !chosen.isBlank()) return Path.of(chosen).toAbsolutePath();
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && Path.of(xdg).isAbsolute()) return Path.of(xdg, "jnce");
        return Path.of(System.getProperty("user.home"), ".cache", "jnce");
    }

    private static volatile List<Entry> list;
    private static volatile String key;

    /**
     * The cache folder's name: a 64-bit FNV-1a hash of the list, in 16 hex digits. The list holds
     * every file's SHA-256, so other content gives another name; no SHA-256 is computed on a
     * start that reuses the cache (its provider takes about 30 ms to start).
     */
    static String key() {
        list();
        return key;
    }

    /** This platform's list; throws {@link UnsatisfiedLinkError} when the jar has none. */
    static List<Entry> list() {
        List<Entry> l = list;
        if (l != null) return l;
        synchronized (NativeFiles.class) {
            if (list == null) {
                byte[] bytes;
                try (InputStream in = NativeFiles.class.getResourceAsStream(resourceFolder() + LIST)) {
                    if (in == null) {
                        throw linkError("this jnce jar has no native library for " + NativeLibrary.platform() + " (looked for "
                                + resourceFolder() + LIST + "); set " + NativeLibrary.PATH_PROPERTY
                                + " to a libjnce.so built from native/", null);
                    }
                    bytes = in.readAllBytes();
                } catch (IOException e) {
                    throw linkError("cannot read " + resourceFolder() + LIST + " from the jar: " + describe(e), e);
                }
                List<Entry> entries = new ArrayList<>();
                for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
                    if (line.isBlank()) continue;
                    String[] f = line.trim().split(" ", 3);
                    if (f.length != 3 || f[0].length() != 64 || f[2].contains("/")) {
                        throw linkError(resourceFolder() + LIST + " has a line that is not '<sha256> <bytes> <name>': " + line, null);
                    }
                    entries.add(new Entry(f[0], Long.parseLong(f[1]), f[2]));
                }
                long hash = 0xcbf29ce484222325L;
                for (byte b : bytes) hash = (hash ^ (b & 0xff)) * 0x100000001b3L;
                key = HexFormat.of().toHexDigits(hash);
                list = List.copyOf(entries);
            }
            return list;
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** An exception as "Type: message", for a reason that must say more than a bare path. */
    static String describe(Throwable e) {
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    private static UnsatisfiedLinkError linkError(String message, Throwable cause) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("jnce native library: " + message);
        if (cause != null) e.initCause(cause);
        return e;
    }
}
