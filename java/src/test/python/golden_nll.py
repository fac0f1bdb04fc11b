#!/usr/bin/python3
"""Golden data for the negative log-likelihood, computed by PyTorch.

Writes java/src/test/resources/golden/nll.txt (read by dev.jnce.testutil.Golden /
dev.jnce.loss.NllLossTest): for each case the float32 input (log-probabilities, or
probabilities), int64 targets, optional class weights and ignore_index, torch's float32 loss
and gradient w.r.t. the input, and the same computed by torch in float64 from the float32
values upcast.

From log-probabilities the loss is torch.nn.functional.nll_loss. From probabilities it is
nll_loss of max(log p, -100) (the clamp of F.binary_cross_entropy), with gradient 0 where the
clamp holds (a plain torch.clamp(torch.log(p)) would give 0 * inf = NaN at p = 0).

Run with Debian's python3-torch, importable only from the system interpreter:

    /usr/bin/python3 java/src/test/python/golden_nll.py

The output depends only on the fixed seed below (and the torch build).
"""
import datetime
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import fmt, line  # same number format as cross_entropy.txt

SEED = 20240613
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "nll.txt"))
REDUCTIONS = ("none", "mean", "sum")


def clamped_log(p):
    """max(log p, -100) with gradient 1/p where log p >= -100 and 0 where it is clamped."""
    keep = torch.log(p.detach()) >= -100
    safe = torch.where(keep, p, torch.ones_like(p))
    return torch.where(keep, torch.log(safe), torch.full_like(p, -100.0))


def run_torch(x32, targets, weight32, ignore_index, reduction, probs, dtype):
    x = torch.from_numpy(x32).to(dtype).requires_grad_(True)
    w = None if weight32 is None else torch.from_numpy(weight32).to(dtype)
    logp = clamped_log(x) if probs else x
    loss = F.nll_loss(logp, torch.from_numpy(targets), weight=w, ignore_index=ignore_index, reduction=reduction)
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach().numpy(), x.grad.numpy()


def case_text(name, x32, targets, weight32, ignore_index, reduction, probs):
    loss32, g32 = run_torch(x32, targets, weight32, ignore_index, reduction, probs, torch.float32)
    loss64, g64 = run_torch(x32, targets, weight32, ignore_index, reduction, probs, torch.float64)
    n, c = x32.shape
    return "\n".join([
        "[%s]" % name,
        "reduction = " + reduction,
        "probabilities = %d" % probs,
        "N = %d" % n,
        "C = %d" % c,
        "ignore_index = %d" % ignore_index,
        "weight = " + ("" if weight32 is None else " ".join(fmt(v) for v in weight32.tolist())),
        line("input", x32),
        "targets = " + " ".join(str(int(t)) for t in targets),
        line("loss", np.asarray(loss32, dtype=np.float32)),
        line("grad", np.asarray(g32, dtype=np.float32)),
        line("loss_f64", loss64),
        line("grad_f64", g64),
    ]) + "\n"


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    i64 = lambda a: np.asarray(a, dtype=np.int64)
    log_softmax = lambda a: f32(torch.log_softmax(torch.from_numpy(f32(a)), dim=-1).numpy())
    softmax = lambda a: f32(torch.softmax(torch.from_numpy(f32(a)), dim=-1).numpy())
    w4 = f32([0.5, 2.0, 1.0, 3.0])

    probs_8x5 = softmax(3 * rng.standard_normal((8, 5)))
    probs_8x5[0, 2] = 0.0     # clamped: loss 100 w, gradient 0
    probs_8x5[1, 4] = 1e-45   # denormal, log below -100: clamped too
    probs_8x5[2, 1] = 1e-30   # small but not clamped: large gradient
    probs_8x5[3, 0] = 1.0
    neginf = log_softmax([[0.0, -np.inf, 1.0], [2.0, 1.0, -np.inf]])

    cases = [  # (base name, input, targets, weight, ignore_index, probabilities)
        ("worked_2x3", log_softmax([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]]), i64([0, 1]), None, -100, 0),
        ("single_1x2", log_softmax([[0.25, -1.5]]), i64([1]), None, -100, 0),
        ("random_7x5", log_softmax(rng.standard_normal((7, 5))), i64(rng.integers(0, 5, 7)), None, -100, 0),
        ("weighted_9x4", log_softmax(2 * rng.standard_normal((9, 4))), i64(rng.integers(0, 4, 9)), w4, -100, 0),
        ("weighted_ignored_9x4", log_softmax(rng.standard_normal((9, 4))),
         i64([0, -100, 3, 1, -100, 2, 2, 1, 0]), w4, -100, 0),
        # ignore_index may be a valid class: rows of class 1 count for nothing.
        ("ignore_valid_class_6x3", log_softmax(rng.standard_normal((6, 3))), i64([1, 0, 1, 2, 1, 0]),
         f32([1.5, 4.0, 0.25]), 1, 0),
        # Every row ignored: mean is 0/0 = NaN (gradient 0), sum is 0.
        ("all_ignored_3x4", log_softmax(rng.standard_normal((3, 4))), i64([-100, -100, -100]), None, -100, 0),
        ("all_ignored_weighted_3x4", log_softmax(rng.standard_normal((3, 4))), i64([7, 7, 7]), w4, 7, 0),
        # Every counted row has class weight 0: mean NaN, NaN gradient at the targets.
        ("zero_weight_4x3", log_softmax(rng.standard_normal((4, 3))), i64([0, 0, -100, 0]), f32([0.0, 1.0, 2.0]), -100, 0),
        # A -inf log-probability at a target gives +inf; elsewhere it is never read.
        ("neginf_2x3", neginf, i64([0, 1]), None, -100, 0),
        ("random_24x250", log_softmax(4 * rng.standard_normal((24, 250))), i64(rng.integers(0, 250, 24)), None, -100, 0),
        ("probs_8x5", probs_8x5, i64([2, 4, 1, 0, 3, 3, -100, 1]), None, -100, 1),
        ("probs_weighted_8x5", probs_8x5, i64([2, 4, 1, 0, 3, 3, -100, 1]), f32([1.0, 0.5, 2.0, 1.5, 3.0]), -100, 1),
        ("probs_1x2", f32([[0.25, 0.75]]), i64([1]), None, -100, 1),
    ]
    header = [
        "# Golden data for the negative log-likelihood (torch.nn.functional.nll_loss), forward and backward.",
        "# Generated by java/src/test/python/golden_nll.py (seed %d)" % SEED,
        "# torch %s, numpy %s, Python %s, on %s" % (torch.__version__, np.__version__,
                                                    sys.version.split()[0], datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator.",
        "#",
        "# Format as cross_entropy.txt; per case:",
        "#   reduction      none | mean | sum",
        "#   probabilities  0: input holds log-probabilities (F.nll_loss);",
        "#                  1: probabilities, loss of max(log p, -100), gradient 0 where clamped",
        "#   N, C           rows and classes",
        "#   ignore_index   targets equal to it count for nothing",
        "#   weight         C float32 class weights, or empty for none",
        "#   input          N*C float32 values, row-major (repr() of the float32 value)",
        "#   targets        N int64 class indices (or ignore_index)",
        "#   loss           torch's float32 loss: one value for mean and sum, N values for none",
        "#   grad           torch's float32 gradient w.r.t. the input (for none, of loss.sum())",
        "#   loss_f64, grad_f64   the same computed by torch in float64 from the float32 values",
        "# Non-finite values are written NaN / Infinity / -Infinity.",
    ]
    parts = ["\n".join(header) + "\n"]
    for base, x, t, w, ignore, probs in cases:
        for red in REDUCTIONS:
            parts.append(case_text("%s_%s" % (base, red), x, t, w, ignore, red, probs))
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(cases) * len(REDUCTIONS), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
