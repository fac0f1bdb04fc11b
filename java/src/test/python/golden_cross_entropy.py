#!/usr/bin/python3
"""Golden data for softmax cross-entropy, computed by PyTorch.

Writes java/src/test/resources/golden/cross_entropy.txt (read by
dev.jnce.testutil.Golden / dev.jnce.loss.CrossEntropyTest): for each case the
float32 logits and int64 targets, torch.nn.functional.cross_entropy's float32
loss and its gradient with respect to the logits, and the same computed by
torch in float64 from the float32 logits upcast.

Run with Debian's python3-torch (apt-get install python3-torch), which is
importable only from the system interpreter:

    /usr/bin/python3 java/src/test/python/golden_cross_entropy.py

The output depends only on the fixed seed below (and the torch build); the
mean losses of the three worked examples are printed to stdout as a check.
"""
import datetime
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240611
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "cross_entropy.txt"))
REDUCTIONS = ("none", "mean", "sum")
VOCAB_N = 1  # rows of the 128000-class case; each adds about 8 MB to the file


def fmt(v):
    """repr() of a Python float: the shortest text that reads back as exactly this double (so
    also exactly this float32 for values that came from float32). Non-finite values are
    written the way Java's Float/Double.parseFloat read them (Python's float() reads them too)."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


def line(key, values):
    return key + " = " + " ".join(fmt(v) for v in np.asarray(values).reshape(-1).tolist())


def run_torch(logits32, targets, reduction, dtype):
    x = torch.from_numpy(logits32).to(dtype).requires_grad_(True)
    t = torch.from_numpy(targets)
    loss = F.cross_entropy(x, t, reduction=reduction)
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach().numpy(), x.grad.numpy()


def case_text(name, logits32, targets, reduction):
    assert logits32.dtype == np.float32 and logits32.ndim == 2
    assert targets.dtype == np.int64 and targets.shape == (logits32.shape[0],)
    loss32, grad32 = run_torch(logits32, targets, reduction, torch.float32)
    loss64, grad64 = run_torch(logits32, targets, reduction, torch.float64)
    for arr in (loss32, grad32, loss64, grad64):
        assert np.all(np.isfinite(arr)), name + ": non-finite result"
    n, c = logits32.shape
    out = [
        "[%s]" % name,
        "reduction = " + reduction,
        "N = %d" % n,
        "C = %d" % c,
        line("logits", logits32),
        "targets = " + " ".join(str(int(t)) for t in targets),
        line("loss", loss32.astype(np.float32)),
        line("grad", grad32.astype(np.float32)),
        line("loss_f64", loss64),
        line("grad_f64", grad64),
    ]
    return "\n".join(out) + "\n", loss32


def main():
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)  # torch draws nothing, but keep it deterministic anyway
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    i64 = lambda a: np.asarray(a, dtype=np.int64)

    cases = []  # (base name, logits, targets, reductions)
    cases.append(("worked1", f32([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]]), i64([0, 1]), REDUCTIONS))
    cases.append(("worked2", f32([[2, 1], [1, 3]]), i64([0, 1]), REDUCTIONS))
    cases.append(("worked3", f32([[2.0, 1.0, 0.1], [1.2, 2.5, 0.3]]), i64([0, 2]), REDUCTIONS))
    cases.append(("single_1x2", f32([[0.25, -1.5]]), i64([1]), REDUCTIONS))
    cases.append(("random_7x5", f32(rng.standard_normal((7, 5))), i64(rng.integers(0, 5, 7)), REDUCTIONS))
    cases.append(("random_16x1000_scaled10", f32(10 * rng.standard_normal((16, 1000))),
                  i64(rng.integers(0, 1000, 16)), REDUCTIONS))
    # Large but finite magnitudes: a naive exp() overflows (or underflows to 0 for every entry).
    big = f32(rng.uniform(-1e4, 1e4, (4, 6)))
    big_t = i64(rng.integers(0, 6, 4))
    big_t[1] = int(np.argmax(big[1]))  # one row whose target is its maximum (small loss)
    big[2, :] = f32(1e4 + rng.uniform(-3, 3, 6))  # one row of close values near +1e4
    cases.append(("large_4x6", big, big_t, REDUCTIONS))
    # -inf logits that are not the target: they take no probability and get a zero gradient.
    ninf = f32(rng.standard_normal((3, 5)))
    ninf_t = i64([2, 0, 4])
    ninf[0, [0, 3]] = -np.inf
    ninf[1, 1:] = -np.inf  # every entry but the target is -inf: loss 0
    ninf[2, 2] = -np.inf
    cases.append(("neginf_3x5", ninf, ninf_t, REDUCTIONS))
    # A large vocabulary. One row only: with logits, grad and grad_f64 each written in full,
    # every row of 128000 classes costs about 8 MB of text (N=3 would be ~25 MB).
    cases.append(("vocab_%dx128000" % VOCAB_N, f32(rng.standard_normal((VOCAB_N, 128000))),
                  i64(rng.integers(0, 128000, VOCAB_N)), ("mean",)))

    header = [
        "# Golden data for softmax cross-entropy (torch.nn.functional.cross_entropy).",
        "# Generated by java/src/test/python/golden_cross_entropy.py (seed %d)" % SEED,
        "# torch %s, numpy %s, Python %s, on %s" % (torch.__version__, np.__version__,
                                                    sys.version.split()[0],
                                                    datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator.",
        "#",
        "# Format: '#' lines are comments; each case starts with [name] and holds one",
        "# 'key = v1 v2 ...' line per field, values separated by single spaces:",
        "#   reduction  none | mean | sum",
        "#   N, C       rows and classes",
        "#   logits     N*C float32 values, row-major, each written as repr() of the float32 value",
        "#              widened to double, so it reads back exactly (as float or as double)",
        "#   targets    N int64 class indices",
        "#   loss       torch's float32 loss: one value for mean and sum, N values for none",
        "#   grad       torch's float32 gradient of the loss w.r.t. the logits, N*C values",
        "#              (for reduction none, of loss.sum())",
        "#   loss_f64   the same computed by torch in float64 from the float32 logits upcast",
        "#   grad_f64   likewise for the gradient (repr(): up to 17 significant digits)",
        "# Non-finite logits are written Infinity / -Infinity (Java's parseFloat spelling).",
    ]
    parts = ["\n".join(header) + "\n"]
    means = {}
    for base, logits, targets, reductions in cases:
        for red in reductions:
            name = "%s_%s" % (base, red)
            text, loss32 = case_text(name, logits, targets, red)
            parts.append(text)
            if base.startswith("worked") and red == "mean":
                means[base] = float(loss32)

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    for base, m in means.items():
        print("%s mean loss = %.6f" % (base, m))
    print("wrote %s (%d cases, %d bytes)" % (OUT, sum(len(c[3]) for c in cases), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
