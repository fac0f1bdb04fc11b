package dev.jnce;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reasons a user reads when the native library cannot be used, in fresh JVMs: a
 * jnce.library.path naming a library that is not libjnce.so, and neither a cache folder nor a
 * temporary folder that the native files can be unpacked into. The reason (of the forced backend's error, of
 * {@link Backends#unavailableReason}, and of the automatic choice's one WARNING) says what was
 * loaded or tried and what failed; it is never null or a bare path.
 */
class NativeLoadingProcessTest {

    /** libm, which every glibc system has: a real shared library that is not libjnce.so. */
    private static String notJnce() {
        for (String p : List.of("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6",
                "/usr/lib64/libm.so.6", "/lib/libm.so.6", "/usr/lib/libm.so.6")) {
            if (Files.isRegularFile(Path.of(p))) return p;
        }
        throw new AssertionError("no libm.so.6 found in the usual folders");
    }

    private static void saysWhy(String output, String... fragments) {
        assertFalse(output.contains("not available: null"), output);
        assertFalse(output.contains("unavailable (null)"), output);
        assertFalse(output.contains("ExceptionInInitializerError"), "the failure itself, not its wrapper: " + output);
        for (String f : fragments) assertTrue(output.contains(f), "should contain '" + f + "': " + output);
    }

    /** The line of output starting with prefix. */
    private static String line(String output, String prefix) {
        return output.lines().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no line starting with '" + prefix + "' in: " + output));
    }

    @Test
    void aLibraryPathNamingAnotherLibraryIsRefusedNamingItAndWhatItLacks() throws Exception {
        String libm = notJnce();
        BackendProcessTest.Run r = BackendProcessTest.info(List.of("-Djnce.backend=cpu", "-Djnce.library.path=" + libm,
                "--enable-native-access=ALL-UNNAMED"), null, null);
        assertNotEquals(0, r.exit(), r.output());
        saysWhy(r.output(), "backend 'cpu' is not available", libm + " loaded, but it lacks", "symbol lookup failed for jnce_",
                "not a libjnce.so");
    }

    @Test
    void theAutomaticFallbackFromAnotherLibrarySaysWhyInItsWarningAndReason() throws Exception {
        String libm = notJnce();
        BackendProcessTest.Run r = BackendProcessTest.run(List.of("-Djnce.library.path=" + libm,
                "--enable-native-access=ALL-UNNAMED"), null, null);
        assertEquals(0, r.exit(), r.output());
        saysWhy(line(r.output(), "WARNING: jnce: backend 'cpu' cannot load"), libm, "lacks", "symbol lookup failed for jnce_");
        saysWhy(line(r.output(), "cpu: unavailable ("), libm, "lacks");
        assertTrue(r.output().contains("readme example: loss 0.306882 on java"), r.output());
    }

    @Tag("native")
    @Test
    void neitherACacheNorATemporaryFolderThatCanBeWrittenIsNamedWithTheirCauses() throws Exception {
        BackendProcessTest.Run r = BackendProcessTest.run(List.of("-Djnce.cache.dir=/proc/jnce-cache", "-Djava.io.tmpdir=/proc",
                "--enable-native-access=ALL-UNNAMED"), null, null);
        assertEquals(0, r.exit(), r.output());
        String cache = "the cache folder /proc/jnce-cache/", why = "temporary folder /proc (java.io.tmpdir): ";
        saysWhy(line(r.output(), "WARNING: jnce: backend 'cpu' cannot load"), cache, "(jnce.cache.dir) cannot be used: ", why,
                "Exception: /proc/jnce-", "set jnce.cache.dir or java.io.tmpdir");
        saysWhy(line(r.output(), "cpu: unavailable ("), cache, why, "Exception");
        assertTrue(r.output().contains("readme example: loss 0.306882 on java"), r.output());
    }

    @Tag("native")
    @Test
    void aCacheAndATemporaryFolderThatAreFilesAreNamedWithTheirCauses(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-folder"), "x");
        BackendProcessTest.Run r = BackendProcessTest.info(List.of("-Djnce.backend=cpu", "-Djnce.cache.dir=" + file,
                "-Djava.io.tmpdir=" + file, "--enable-native-access=ALL-UNNAMED"), null, null);
        assertNotEquals(0, r.exit(), r.output());
        saysWhy(r.output(), "backend 'cpu' is not available", "the cache folder " + file + "/", "(jnce.cache.dir) cannot be used: ",
                "temporary folder " + file + " (java.io.tmpdir): ", "Exception");
    }
}
