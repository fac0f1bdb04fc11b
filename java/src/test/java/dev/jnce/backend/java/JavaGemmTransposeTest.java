package dev.jnce.backend.java;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packing of a transposed GEMM operand, register blocks of sixteen and of eight lanes and the
 * scalar eight-column form: every value lands where {@code out[r * cols + cc + t] = group[t *
 * rows + r]} puts it, for row counts below, at and past whole blocks, at every column offset
 * of a wider block, and nothing outside those columns is written.
 */
class JavaGemmTransposeTest {
    private static List<JavaGemm.Transposer> transposers() {
        List<JavaGemm.Transposer> all = new ArrayList<>(List.of(JavaGemm.SCALAR_TRANSPOSER));
        if (VectorSupport.present()) { // both widths, whichever this machine prefers
            all.add(JavaGemmVector.transposer(16));
            all.add(JavaGemmVector.transposer(8));
        }
        return all;
    }

    @Test
    void everyValueLandsAtItsTransposedPlace() {
        int checked = 0;
        for (JavaGemm.Transposer tr : transposers()) {
            int w = tr.width();
            assertTrue(w >= 8 && w <= JavaGemm.MAX_GROUP, "width " + w);
            for (int rows : new int[] {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 127, 128, 129, 256}) {
                int cols = 3 * w + 5;
                float[] group = new float[w * rows];
                for (int i = 0; i < group.length; i++) group[i] = 1 + i; // each value distinct
                for (int cc = 0; cc + w <= cols; cc += w / 2 + 1) {
                    float[] out = new float[rows * cols];
                    java.util.Arrays.fill(out, -1f);
                    tr.transpose(group, rows, out, cols, cc);
                    float[] want = new float[rows * cols];
                    java.util.Arrays.fill(want, -1f);
                    for (int r = 0; r < rows; r++) for (int t = 0; t < w; t++) want[r * cols + cc + t] = group[t * rows + r];
                    assertArrayEquals(want, out, "width " + w + ", rows " + rows + ", columns from " + cc);
                    checked++;
                }
            }
        }
        assertEquals(transposers().size() * 16 * 5, checked); // five column offsets for either width
    }

    /** The one-tensor tiles' block transpose: whole groups of rows in registers, the rows past them one value at a time. */
    @Test
    void aBlockIsTransposedWhole() {
        if (!VectorSupport.present()) return; // the tiles run on the Vector API only
        int w = JavaGemmVector.TRANSPOSER.width();
        float[] group = new float[JavaGemm.MAX_GROUP * 256];
        for (int rows : new int[] {1, w - 1, w, w + 3, 100, 255, 256}) {
            for (int cols : new int[] {1, 17, 77, 256}) {
                float[] h = new float[rows * cols], ht = new float[rows * cols];
                for (int i = 0; i < h.length; i++) h[i] = 1 + i;
                java.util.Arrays.fill(group, -7f); // whatever an earlier block left
                JavaSymmetricTiles.transpose(h, rows, cols, ht, group);
                float[] want = new float[rows * cols];
                for (int r = 0; r < rows; r++) for (int q = 0; q < cols; q++) want[q * rows + r] = h[r * cols + q];
                assertArrayEquals(want, ht, rows + " x " + cols);
            }
        }
    }
}
