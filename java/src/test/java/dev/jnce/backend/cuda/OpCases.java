package dev.jnce.backend.cuda;

import dev.jnce.DType;
import dev.jnce.Device;
import dev.jnce.Reduction;
import dev.jnce.Tensor;
import dev.jnce.backend.ContrastiveKernels.PairSums;
import dev.jnce.backend.Kernels;
import dev.jnce.backend.SoftmaxKernels.Function;
import dev.jnce.testutil.Reductions;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The ops of the element-wise, softmax, NLL, divergence, CLIP, SigLIP and triplet families on fixed inputs,
 * run on one backend (cuda in bench/gpu/verify.sh; cpu with CudaTorchDump --host), written as raw
 * little-endian files and manifest lines for bench/gpu/compare_torch.py, which recomputes each in
 * float64 with PyTorch (forward and gradients).
 */
final class OpCases {
    private final Kernels k;
    private final Device dev;
    private final Path dir;
    private final List<String> manifest;

    OpCases(Kernels k, Device dev, Path dir, List<String> manifest) {
        this.k = k;
        this.dev = dev;
        this.dir = dir;
        this.manifest = manifest;
    }

    void all() throws IOException {
        binary();
        softmax();
        nll();
        kl();
        clip();
        siglip();
        triplet();
        softmaxFocal();
    }

    /** The multi-class focal loss: gamma 2 with alpha per class, gamma 1.5 without; each reduction. */
    private void softmaxFocal() throws IOException {
        int n = 90, c = 25, idx = 0;
        Random r = new Random(81);
        Tensor x = Tensor.of(CudaTestSupport.normal(82, n * c, 3.0), n, c);
        long[] t = new long[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(c);
        float[] av = new float[c];
        for (int j = 0; j < c; j++) av[j] = 0.1f + r.nextFloat();
        Tensor targets = Tensor.of(t), alpha = Tensor.of(av, c);
        for (boolean withAlpha : new boolean[] {true, false}) {
            float gamma = withAlpha ? 2f : 1.5f;
            for (Reduction red : Reductions.all()) {
                String name = "sfocal" + idx++;
                Tensor loss = red == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
                Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, c);
                k.focal().softmaxFocal(x.to(dev), targets.to(dev), withAlpha ? alpha.to(dev) : null, gamma, red, loss, grad);
                manifest.add("op=softmax_focal name=" + name + " reduction=" + red + " gamma=" + gamma + save(name, "x", x)
                        + save(name, "targets", targets) + (withAlpha ? save(name, "alpha", alpha) : "") + save(name, "loss", loss)
                        + save(name, "grad", grad));
            }
        }
    }

    /** The triplet margin loss: p = 2 and 1 with swap, the cosine distance; each reduction. */
    private void triplet() throws IOException {
        int n = 80, d = 48, idx = 0;
        Tensor a = Tensor.of(CudaTestSupport.normal(71, n * d, 1.0), n, d), p = Tensor.of(CudaTestSupport.normal(72, n * d, 1.0), n, d);
        Tensor ng = Tensor.of(CudaTestSupport.normal(73, n * d, 1.0), n, d);
        String[] kinds = {"p2", "p1_swap", "cosine"};
        for (String kind : kinds) {
            for (Reduction red : Reductions.all()) {
                String name = "triplet" + idx++;
                var o = new dev.jnce.backend.PairKernels.Triplet(kind.equals("cosine"), 1.0f, kind.equals("p1_swap") ? 1f : 2f,
                        1e-6f, kind.equals("p1_swap"), red);
                Tensor loss = red == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
                Tensor ga = Tensor.zeros(dev, DType.FLOAT32, n, d), gp = Tensor.zeros(dev, DType.FLOAT32, n, d);
                Tensor gn = Tensor.zeros(dev, DType.FLOAT32, n, d);
                k.pair().tripletMargin(a.to(dev), p.to(dev), ng.to(dev), o, loss, ga, gp, gn);
                manifest.add("op=triplet name=" + name + " kind=" + kind + " reduction=" + red + save(name, "a", a)
                        + save(name, "p", p) + save(name, "n", ng) + save(name, "loss", loss) + save(name, "ga", ga)
                        + save(name, "gp", gp) + save(name, "gn", gn));
            }
        }
    }

    /** BCE (weight per class), BCE with logits (weight and pos_weight), sigmoid focal (alpha 0.25, gamma 2; none, 1.5). */
    private void binary() throws IOException {
        int n = 128, c = 96, idx = 0;
        Random r = new Random(11);
        float[] pv = new float[n * c], yv = new float[n * c], wv = new float[c], pwv = new float[c];
        for (int i = 0; i < n * c; i++) {
            pv[i] = i % 97 == 3 ? 0f : i % 89 == 5 ? 1f : r.nextFloat();
            yv[i] = i % 5 == 0 ? r.nextFloat() : r.nextInt(2);
        }
        for (int j = 0; j < c; j++) {
            wv[j] = 0.1f + 2 * r.nextFloat();
            pwv[j] = 0.1f + 2 * r.nextFloat();
        }
        Tensor p = Tensor.of(pv, n, c), x = Tensor.of(CudaTestSupport.normal(12, n * c, 3.0), n, c), y = Tensor.of(yv, n, c);
        Tensor w = Tensor.of(wv, c), pw = Tensor.of(pwv, c);
        for (String op : new String[] {"bce", "bce_logits", "sigmoid_focal", "sigmoid_focal_noalpha"}) {
            for (Reduction red : Reductions.all()) {
                String name = "bin" + idx++;
                Tensor loss = red == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n, c) : Tensor.zeros(dev, DType.FLOAT32);
                Tensor gx = Tensor.zeros(dev, DType.FLOAT32, n, c), gy = Tensor.zeros(dev, DType.FLOAT32, n, c);
                Tensor in = op.equals("bce") ? p : x;
                float alpha = op.equals("sigmoid_focal") ? 0.25f : -1f, gamma = op.equals("sigmoid_focal") ? 2f : 1.5f;
                switch (op) {
                    case "bce" -> k.binaryCrossEntropy().binaryCrossEntropy(in.to(dev), y.to(dev), w.to(dev), red, loss, gx, gy);
                    case "bce_logits" -> k.binaryCrossEntropy().binaryCrossEntropyWithLogits(in.to(dev), y.to(dev), w.to(dev),
                            pw.to(dev), red, loss, gx, gy);
                    default -> k.focal().sigmoidFocal(in.to(dev), y.to(dev), alpha, gamma, red, loss, gx, gy);
                }
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                        "op=binary name=%s kind=%s N=%d C=%d reduction=%s alpha=%s gamma=%s", name,
                        op.startsWith("sigmoid_focal") ? "sigmoid_focal" : op, n, c, red, alpha, gamma));
                line.append(save(name, "input", in)).append(save(name, "target", y));
                if (!op.startsWith("sigmoid_focal")) line.append(save(name, "weight", w));
                if (op.equals("bce_logits")) line.append(save(name, "pos_weight", pw));
                line.append(save(name, "loss", loss)).append(save(name, "grad_input", gx)).append(save(name, "grad_target", gy));
                manifest.add(line.toString());
            }
        }
    }

    /** softmax, log_softmax, logsumexp forward and backward over (64, 1000) with -Inf entries. */
    private void softmax() throws IOException {
        int n = 64, c = 1000;
        float[] xv = CudaTestSupport.normal(21, n * c, 4.0);
        for (int i = 0; i < n * c; i += 37) xv[i] = Float.NEGATIVE_INFINITY;
        Tensor x = Tensor.of(xv, n, c);
        for (Function f : Function.values()) {
            String name = "softmax_" + f.name().toLowerCase(Locale.ROOT);
            long[] shape = f == Function.LOGSUMEXP ? new long[] {n} : new long[] {n, c};
            Tensor y = Tensor.zeros(dev, DType.FLOAT32, shape);
            k.softmax().forward(f, x.to(dev), n, c, y);
            Tensor dy = Tensor.of(CudaTestSupport.normal(22, f == Function.LOGSUMEXP ? n : n * c, 1.0), shape);
            Tensor dx = Tensor.zeros(dev, DType.FLOAT32, n, c);
            k.softmax().backward(f, f == Function.LOGSUMEXP ? x.to(dev) : y, dy.to(dev), n, c, dx);
            manifest.add("op=softmax name=" + name + " fn=" + f + save(name, "x", x) + save(name, "y", y) + save(name, "dy", dy)
                    + save(name, "dx", dx));
        }
    }

    /** NLL on log-probabilities and on probabilities, class weights, ignored rows, each reduction. */
    private void nll() throws IOException {
        int n = 100, c = 40, idx = 0;
        Random r = new Random(31);
        float[] lp = CudaTestSupport.normal(32, n * c, 2.0), pr = new float[n * c], wv = new float[c];
        for (int i = 0; i < n; i++) { // rows of log_softmax
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < c; j++) m = Math.max(m, lp[i * c + j]);
            for (int j = 0; j < c; j++) s += Math.exp(lp[i * c + j] - m);
            for (int j = 0; j < c; j++) lp[i * c + j] = (float) (lp[i * c + j] - m - Math.log(s));
        }
        for (int i = 0; i < n * c; i++) pr[i] = r.nextFloat();
        for (int j = 0; j < c; j++) wv[j] = 0.1f + 2 * r.nextFloat();
        long[] t = new long[n];
        for (int i = 0; i < n; i++) t[i] = i % 7 == 3 ? -100 : r.nextInt(c);
        Tensor targets = Tensor.of(t), w = Tensor.of(wv, c);
        for (boolean probs : new boolean[] {false, true}) {
            Tensor input = Tensor.of(probs ? pr : lp, n, c);
            for (Reduction red : Reductions.all()) {
                String name = "nll" + idx++;
                Tensor loss = red == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
                Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, c);
                k.nll().nll(input.to(dev), targets.to(dev), w.to(dev), -100, red, probs, false, loss, grad);
                manifest.add("op=nll name=" + name + " reduction=" + red + " probs=" + probs + save(name, "input", input)
                        + save(name, "targets", targets) + save(name, "weight", w) + save(name, "loss", loss)
                        + save(name, "grad", grad));
            }
        }
    }

    /** F.kl_div with probability targets (zeros among them) and log targets, every reduction with batchmean. */
    private void kl() throws IOException {
        int n = 50, c = 30, idx = 0;
        float[] x = CudaTestSupport.normal(41, n * c, 1.0), t = new float[n * c], lt = CudaTestSupport.normal(42, n * c, 1.0);
        Random r = new Random(43);
        for (int i = 0; i < n * c; i++) t[i] = i % 11 == 0 ? 0f : r.nextFloat();
        for (boolean logTarget : new boolean[] {false, true}) {
            Tensor input = Tensor.of(x, n, c), target = Tensor.of(logTarget ? lt : t, n, c);
            for (Reduction red : Reduction.values()) {
                String name = "kl" + idx++;
                Tensor loss = red == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n, c) : Tensor.zeros(dev, DType.FLOAT32);
                Tensor gx = Tensor.zeros(dev, DType.FLOAT32, n, c), gt = Tensor.zeros(dev, DType.FLOAT32, n, c);
                k.divergence().klDiv(input.to(dev), target.to(dev), n, c, logTarget, red, loss, gx, gt);
                manifest.add("op=kl name=" + name + " reduction=" + red + " log_target=" + logTarget + save(name, "input", input)
                        + save(name, "target", target) + save(name, "loss", loss) + save(name, "grad_input", gx)
                        + save(name, "grad_target", gt));
            }
        }
    }

    /** CLIP's symmetric cross-entropy over (200, 200) logits, each reduction. */
    private void clip() throws IOException {
        int n = 200, idx = 0;
        Tensor s = Tensor.of(CudaTestSupport.normal(51, n * n, 3.0), n, n);
        for (Reduction red : Reductions.all()) {
            String name = "clip" + idx++;
            Tensor loss = red == Reduction.NONE ? Tensor.zeros(dev, DType.FLOAT32, n) : Tensor.zeros(dev, DType.FLOAT32);
            Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, n);
            k.contrastive().clipCrossEntropy(s.to(dev), red, loss, grad);
            manifest.add("op=clip name=" + name + " reduction=" + red + save(name, "s", s) + save(name, "loss", loss)
                    + save(name, "grad", grad));
        }
    }

    /** SigLIP's pairwise loss over (120, 300) logits with the positives at j = i + 50, bias -2. */
    private void siglip() throws IOException {
        int n = 120, m = 300, offset = 50;
        float bias = -2f;
        Tensor s = Tensor.of(CudaTestSupport.normal(61, n * m, 3.0), n, m);
        Tensor grad = Tensor.zeros(dev, DType.FLOAT32, n, m);
        PairSums sums = k.contrastive().sigLipPairs(s.to(dev), offset, bias, grad);
        Tensor both = Tensor.of(new float[] {(float) sums.loss(), (float) sums.grad()}, 2);
        manifest.add("op=siglip name=siglip offset=" + offset + " bias=" + bias + save("siglip", "s", s)
                + save("siglip", "sums", both) + save("siglip", "grad", grad));
    }

    /** Writes the tensor (copied to the host) as raw little-endian bytes; " key=file:dtype:shape". */
    private String save(String name, String key, Tensor t) throws IOException {
        try (Tensor host = t.to(Device.HOST)) {
            String file = name + "_" + key + ".bin";
            Files.write(dir.resolve(file), host.segment().toArray(ValueLayout.JAVA_BYTE));
            StringBuilder shape = new StringBuilder();
            for (long v : host.shape()) shape.append(shape.isEmpty() ? "" : "x").append(v);
            return " " + key + "=" + file + ":" + host.dtype() + ":" + (shape.isEmpty() ? "scalar" : shape);
        }
    }
}
