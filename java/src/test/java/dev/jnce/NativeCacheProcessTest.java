package dev.jnce;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native files' cache as JVMs meet it, in fresh JVMs with {@code -Djnce.cache.dir} set to an
 * empty folder: the first start unpacks (and logs it), later ones reuse the same files without
 * writing them; JVMs starting together on an empty cache all load; a file of the wrong size is
 * unpacked again; and the OpenBLAS in use is the one jnce's jar carries (its version, from
 * openblas_get_config, and its path in /proc/self/maps), not the system's.
 */
@Tag("native")
class NativeCacheProcessTest {
    /** OpenBLAS of org.bytedeco:openblas 0.3.30-1.5.12; Debian's own is 0.3.21. */
    private static final String BUNDLED_OPENBLAS = "OpenBLAS: OpenBLAS 0.3.30 DYNAMIC_ARCH";

    private static List<String> flags(Path cache) {
        return List.of("-Djnce.cache.dir=" + cache, "--enable-native-access=ALL-UNNAMED");
    }

    /** The one folder the loader made in the cache root (named after the content of the jar's files). */
    private static Path folder(Path cache) throws IOException {
        try (Stream<Path> s = Files.list(cache)) {
            List<Path> dirs = s.toList();
            assertEquals(1, dirs.size(), "one folder per jar content: " + dirs);
            return dirs.get(0);
        }
    }

    /** Each file's name with its modification time and inode. */
    private static Map<String, String> stamps(Path folder) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                FileTime t = Files.getLastModifiedTime(p);
                m.put(p.getFileName().toString(), t.toInstant() + " inode " + Files.getAttribute(p, "unix:ino"));
            }
        }
        return m;
    }

    /** The checks every start makes: cpu chosen, the bundled OpenBLAS loaded from the cache folder, the example's loss. */
    private static void ranOnBundledOpenBlas(BackendProcessTest.Run r, Path folder) {
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: cpu"), r.output());
        assertTrue(r.output().contains(BUNDLED_OPENBLAS), "openblas_get_config of the loaded library: " + r.output());
        assertTrue(r.output().contains("OpenBLAS " + folder.resolve("libopenblas.so.0")), "mapped from the cache: " + r.output());
        assertTrue(r.output().contains("from " + folder.resolve("libjnce.so")), r.output());
        assertTrue(r.output().contains("readme example: loss 0.306882 on cpu"), r.output());
    }

    @Test
    void theFirstStartUnpacksAndLaterStartsReuseTheSameFiles(@TempDir Path cache) throws Exception {
        BackendProcessTest.Run first = BackendProcessTest.run(flags(cache), null, null);
        Path folder = folder(cache);
        ranOnBundledOpenBlas(first, folder);
        assertTrue(first.output().contains("jnce native files: unpacked libgcc_s.so.1, libgfortran.so.5, libjnce.so, "
                + "libopenblas.so.0, libquadmath.so.0"), "the first start logs what it unpacked: " + first.output());
        assertTrue(first.output().contains("unpacked into the cache folder " + folder), first.output());
        Map<String, String> before = stamps(folder);
        assertTrue(before.keySet().containsAll(List.of("libjnce.so", "libopenblas.so.0", "libgfortran.so.5")), before.toString());

        Thread.sleep(20); // a rewrite would show in the modification time
        BackendProcessTest.Run second = BackendProcessTest.run(flags(cache), null, null);
        ranOnBundledOpenBlas(second, folder);
        assertTrue(second.output().contains("reused from the cache folder " + folder), second.output());
        assertFalse(second.output().contains("jnce native files: unpacked"), "nothing is unpacked again: " + second.output());
        assertEquals(before, stamps(folder), "the same files, untouched");
    }

    @Test
    void jvmsStartingTogetherOnAnEmptyCacheAllLoad(@TempDir Path cache) throws Exception {
        int jvms = 3;
        List<Process> started = new ArrayList<>();
        for (int i = 0; i < jvms; i++) {
            List<String> command = new ArrayList<>();
            command.add(ProcessHandle.current().info().command().orElseThrow());
            command.addAll(flags(cache));
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), ReadmeExampleMain.class.getName()));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().remove(Backends.ENV);
            started.add(pb.start());
        }
        int unpackers = 0;
        for (Process p : started) {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM should finish");
            ranOnBundledOpenBlas(new BackendProcessTest.Run(p.exitValue(), out), folder(cache));
            if (out.contains("jnce native files: unpacked")) unpackers++;
        }
        assertTrue(unpackers >= 1, "someone unpacked the files");
        try (Stream<Path> s = Files.list(folder(cache))) {
            List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".part")).toList();
            assertEquals(List.of(), left, "no partly written file is left behind");
        }
    }

    @Test
    void aCachedFileOfTheWrongSizeIsUnpackedAgain(@TempDir Path cache) throws Exception {
        ranOnBundledOpenBlas(BackendProcessTest.run(flags(cache), null, null), folder(cache));
        Path folder = folder(cache);
        Path openBlas = folder.resolve("libopenblas.so.0");
        long size = Files.size(openBlas);
        Files.write(openBlas, new byte[100]); // as a crash or a full disk might leave it

        BackendProcessTest.Run r = BackendProcessTest.run(flags(cache), null, null);
        ranOnBundledOpenBlas(r, folder);
        assertTrue(r.output().contains("jnce native files: unpacked libopenblas.so.0 ("), "only the damaged file: " + r.output());
        assertEquals(size, Files.size(openBlas));
    }

    @Test
    void aCacheFolderThatCannotBeWrittenFallsBackToATemporaryFolderAndSaysSo(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-folder"), "x");
        BackendProcessTest.Run r = BackendProcessTest.run(List.of("-Djnce.cache.dir=" + file, "-Djava.io.tmpdir=" + dir,
                "--enable-native-access=ALL-UNNAMED"), null, null);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("current: cpu"), r.output());
        assertTrue(r.output().contains(BUNDLED_OPENBLAS), r.output());
        assertTrue(r.output().contains("the cache folder " + file + "/"), r.output());
        assertTrue(r.output().contains("unpacked into the temporary folder " + dir + "/jnce-"), r.output());
        assertTrue(r.output().contains("set jnce.cache.dir to a writable folder"), r.output());
        assertTrue(r.output().contains("readme example: loss 0.306882 on cpu"), r.output());
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList(), "the temporary folder is deleted once loaded");
        }
    }
}
