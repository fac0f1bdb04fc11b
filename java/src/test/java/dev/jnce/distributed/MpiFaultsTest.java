package dev.jnce.distributed;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MpiCollective's faults under {@code mpirun} on localhost ({@link MpiFaultsMain}): a rank that
 * stalls before a collective ends the job through the others' watchdog within the timeout (3 s
 * here), with a message naming the collective; a rank whose row counts disagree with the others'
 * is refused on every rank, and the job goes on. Skipped, saying why, without mpirun.
 */
class MpiFaultsTest {
    private static final long LIMIT_S = 90;

    record Run(int exit, String output, long millis) {
    }

    private static Run run(int ranks, String mode) throws Exception {
        Path mpirun = null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "mpirun"))) {
                mpirun = Path.of(dir, "mpirun");
                break;
            }
        }
        if (mpirun == null) System.out.println("MpiFaultsTest skipped: no mpirun on PATH (apt-get install openmpi-bin libopenmpi-dev)");
        Assumptions.assumeTrue(mpirun != null, "no mpirun on PATH: install openmpi-bin and libopenmpi-dev");
        List<String> cmd = List.of(mpirun.toString(), "--allow-run-as-root", "--oversubscribe", "-np", String.valueOf(ranks),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-Djnce.mpi.timeout=3", "-cp", System.getProperty("java.class.path"), MpiFaultsMain.class.getName(), mode);
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        // read on another thread so that a hang is caught by waitFor's limit, not blocked in read
        var reader = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return "(output unreadable: " + e + ")";
            }
        });
        boolean done = p.waitFor(LIMIT_S, TimeUnit.SECONDS);
        if (!done) p.descendants().forEach(ProcessHandle::destroyForcibly);
        if (!done) p.destroyForcibly();
        String out = reader.get(10, TimeUnit.SECONDS);
        assertTrue(done, "mpirun -np " + ranks + " " + mode + " did not end within " + LIMIT_S + " s: " + out);
        return new Run(p.exitValue(), out, (System.nanoTime() - start) / 1_000_000);
    }

    @Test
    void aStalledRankEndsTheJobAtTheTimeout() throws Exception {
        Run r = run(3, "stall");
        assertTrue(r.exit != 0, "exit " + r.exit + ": " + r.output);
        assertTrue(r.output.contains("rank 1 stalls"), r.output);
        assertTrue(r.output.contains("allGatherRows did not complete within PT3S"), r.output);
        assertTrue(!r.output.contains("MISSED"), r.output);
        assertTrue(r.millis < 60_000, "ended after " + r.millis + " ms: " + r.output);
    }

    @Test
    void rowCountsThatDisagreeAreRefusedOnEveryRankAndTheJobGoesOn() throws Exception {
        for (int ranks : new int[] {2, 4}) {
            Run r = run(ranks, "refuse");
            assertEquals(0, r.exit, r.output);
            for (int rank = 0; rank < ranks; rank++) {
                assertTrue(r.output.contains("rank " + rank + " refused: rowCounts: the ranks pass different counts: rank 0: ["), r.output);
                // every rank gathered (rank, 1) from all: Σ rank + P
                assertTrue(r.output.contains("rank " + rank + " after: " + (ranks * (ranks - 1) / 2 + ranks)), r.output);
            }
        }
    }
}
