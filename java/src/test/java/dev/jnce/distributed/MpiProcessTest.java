package dev.jnce.distributed;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sharded losses across processes: {@code mpirun -np 2} and {@code -np 4} of {@link MpiMain}
 * on this machine (localhost), each rank checking its results against the single-process loss on
 * the whole batch; a bad shape on rank 1 refused on every rank; and a job whose rank 1 exits
 * before the first collective, or throws and calls MPI_Abort while the others wait in a
 * collective, ends with an error in bounded time. Skipped, saying why, where mpirun is missing (the build machine installs
 * Debian's openmpi-bin; .ci/run does).
 */
class MpiProcessTest {
    private static final long TIMEOUT_S = 120;

    private static Path mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    record Run(int exit, String output, long millis) {
    }

    private static Run run(int ranks, String... args) throws IOException, InterruptedException {
        Path mpirun = mpirun();
        if (mpirun == null) System.out.println("MpiProcessTest skipped: no mpirun on PATH (apt-get install openmpi-bin libopenmpi-dev)");
        Assumptions.assumeTrue(mpirun != null, "no mpirun on PATH: install openmpi-bin and libopenmpi-dev");
        List<String> cmd = new ArrayList<>(List.of(mpirun.toString(), "--allow-run-as-root", "--oversubscribe", "-np",
                String.valueOf(ranks), Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), MpiMain.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        long start = System.nanoTime();
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        boolean done = p.waitFor(TIMEOUT_S, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        assertTrue(done, "mpirun -np " + ranks + " did not end within " + TIMEOUT_S + " s");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), (System.nanoTime() - start) / 1_000_000);
    }

    @Test
    void twoAndFourRanksEqualTheSingleProcessLoss() throws Exception {
        for (int ranks : new int[] {2, 4}) {
            Run r = run(ranks);
            assertEquals(0, r.exit, r.output);
            for (int rank = 0; rank < ranks; rank++) {
                assertTrue(r.output.contains("rank " + rank + " ok of " + ranks), "rank " + rank + " of " + ranks + ": " + r.output);
            }
        }
    }

    @Test
    void aBadShapeOnOneRankIsRefusedOnEveryRank() throws Exception {
        Run r = run(3, "odd");
        assertEquals(0, r.exit, r.output);
        assertTrue(r.output.contains("rank 1 refused: views: shape (3, 6) has an odd number of rows"), r.output);
        for (int rank : new int[] {0, 2}) {
            assertTrue(r.output.contains("rank " + rank + " refused: views: rank 1 refused its arguments"), r.output);
        }
    }

    @Test
    void aRankThatThrowsAbortsTheJobInBoundedTime() throws Exception {
        Run r = run(3, "throw");
        assertNotEquals(0, r.exit, r.output);
        assertTrue(r.output.contains("rank 1 failed: rank 1's encoder failed; MPI_Abort"), r.output);
        assertTrue(!r.output.contains("passed the collective rank 1 never reached"), r.output);
        assertTrue(r.millis < 60_000, "ended after " + r.millis + " ms: " + r.output);
    }

    @Test
    void aRankThatDiesEndsTheJobInBoundedTime() throws Exception {
        Run r = run(3, "die");
        assertNotEquals(0, r.exit, r.output);
        assertTrue(r.output.contains("rank 1 exits before the collective"), r.output);
        assertTrue(r.millis < 60_000, "ended after " + r.millis + " ms: " + r.output);
    }
}
