package dev.jnce.interop;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.PairList;
import dev.jnce.djl.InfoNceLoss;
import dev.jnce.loss.InfoNce;
import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link InfoNceLoss}, jnce's InfoNCE as a DJL loss (PyTorch engine on the CPU): its value, the
 * gradient DJL's autograd gets through it, and an SGD step of a DJL Trainer, each checked against
 * the float64 reference and the chain rule.
 */
class InfoNceLossTest {
    private static final double TAU = 0.5;
    private static final int N = 8, IN = 5, D = 4;
    private static final InfoNceLoss LOSS = new InfoNceLoss(InfoNce.create().withTemperature((float) TAU).withNormalize(false));

    /** d loss / d W for q = xq W, k = xk W (W (IN, D)): xqᵀ dq + xkᵀ dk, row-major (IN, D). */
    private static double[] gradW(float[] xq, float[] xk, InfoNceReference ref) {
        double[] g = new double[IN * D];
        for (int i = 0; i < N; i++) {
            for (int r = 0; r < IN; r++) {
                for (int c = 0; c < D; c++) g[r * D + c] += (double) xq[i * IN + r] * ref.dq[i * D + c] + (double) xk[i * IN + r] * ref.dk[i * D + c];
            }
        }
        return g;
    }

    @Test
    void theLossCarriesJncesGradientIntoAutograd() {
        float[] xq = InfoNceReference.gaussian(21, N * IN), xk = InfoNceReference.gaussian(22, N * IN), w0 = InfoNceReference.gaussian(23, IN * D);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x1 = m.create(xq, new Shape(N, IN)), x2 = m.create(xk, new Shape(N, IN)), w = m.create(w0, new Shape(IN, D));
            w.setRequiresGradient(true);
            float value;
            float[] qv, kv;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray q = x1.matMul(w), k = x2.matMul(w);
                qv = q.toFloatArray();
                kv = k.toFloatArray();
                NDArray l = LOSS.evaluate(new NDList(), new NDList(q, k));
                assertEquals(new Shape(), l.getShape());
                value = l.getFloat();
                collector.backward(l);
            }
            InfoNceReference ref = new InfoNceReference(qv, kv, N, D, TAU);
            assertEquals(ref.loss, value, 1e-5 * Math.max(1, ref.loss), "the loss DJL sees");
            double[] expected = gradW(xq, xk, ref);
            float[] dw = w.getGradient().toFloatArray();
            for (int i = 0; i < IN * D; i++) assertEquals(expected[i], dw[i], 1e-4, "d W[" + i + "] from DJL's autograd");
        }
    }

    /** Two towers sharing one bias-free Linear: (xq, xk) to (xq Wᵀ, xk Wᵀ), W (D, IN). */
    private static final class SharedTower extends AbstractBlock {
        private final Linear linear = addChildBlock("linear", Linear.builder().setUnits(D).optBias(false).build());

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
            return new NDList(linear.forward(store, new NDList(inputs.get(0)), training).head(),
                    linear.forward(store, new NDList(inputs.get(1)), training).head());
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(inputShapes[0].get(0), D), new Shape(inputShapes[1].get(0), D)};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            linear.initialize(manager, dataType, inputShapes[0]);
        }
    }

    @Test
    void aTrainerTakesAnSgdStepOnJncesGradient() {
        float lr = 0.1f;
        float[] xq = InfoNceReference.gaussian(31, N * IN), xk = InfoNceReference.gaussian(32, N * IN);
        float[] w0 = InfoNceReference.gaussian(33, D * IN);   // Linear's weight, (D, IN)
        try (Model model = Model.newInstance("two-towers")) {
            model.setBlock(new SharedTower());
            DefaultTrainingConfig config = new DefaultTrainingConfig(LOSS)
                    .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(lr)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(N, IN), new Shape(N, IN));
                Parameter weight = model.getBlock().getParameters().valueAt(0);
                weight.getArray().set(FloatBuffer.wrap(w0));
                NDManager m = trainer.getManager();
                NDList batch = new NDList(m.create(xq, new Shape(N, IN)), m.create(xk, new Shape(N, IN)));
                float value;
                float[] qv, kv;
                try (GradientCollector collector = trainer.newGradientCollector()) {
                    NDList towers = trainer.forward(batch);
                    qv = towers.get(0).toFloatArray();
                    kv = towers.get(1).toFloatArray();
                    NDArray l = trainer.getLoss().evaluate(new NDList(), towers);
                    value = l.getFloat();
                    collector.backward(l);
                }
                trainer.step();
                InfoNceReference ref = new InfoNceReference(qv, kv, N, D, TAU);
                assertEquals(ref.loss, value, 1e-5 * Math.max(1, ref.loss), "the loss of the step");
                // q = xq Wᵀ: d loss / d W[c][r] = sum_i dq[i][c] xq[i][r] + dk[i][c] xk[i][r]
                double[] g = gradW(xq, xk, ref);
                float[] after = weight.getArray().toFloatArray();
                double moved = 0;
                for (int c = 0; c < D; c++) {
                    for (int r = 0; r < IN; r++) {
                        double expected = w0[c * IN + r] - lr * g[r * D + c];
                        assertEquals(expected, after[c * IN + r], 1e-5, "W[" + c + "," + r + "] after one SGD step");
                        moved += Math.abs(after[c * IN + r] - w0[c * IN + r]);
                    }
                }
                assertTrue(moved > 1e-3, "the step moved W");
            }
        }
    }

    @Test
    void predictionsThatAreNotTwoFloatArraysOnTheCpuAreRefusedByName() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray q = m.ones(new Shape(N, D));
            IllegalArgumentException one = assertThrows(IllegalArgumentException.class, () -> LOSS.evaluate(new NDList(), new NDList(q)));
            assertTrue(one.getMessage().startsWith("predictions"), one.getMessage());
            NDArray k64 = m.ones(new Shape(N, D), DataType.FLOAT64);
            IllegalArgumentException f64 = assertThrows(IllegalArgumentException.class, () -> LOSS.evaluate(new NDList(), new NDList(q, k64)));
            assertTrue(f64.getMessage().startsWith("keys") && f64.getMessage().contains("float64"), f64.getMessage());
            NDArray wrongWidth = m.ones(new Shape(N, D + 1));
            IllegalArgumentException width = assertThrows(IllegalArgumentException.class, () -> LOSS.evaluate(new NDList(), new NDList(q, wrongWidth)));
            assertTrue(width.getMessage().contains("keys"), width.getMessage());
        }
    }
}
