#!/usr/bin/python3
"""Golden data for jnce's CrossEntropy options, from PyTorch.

Writes java/src/test/resources/golden/cross_entropy_options.txt: F.cross_entropy with class
weights, ignore_index (the default -100 and a valid class), label_smoothing (alone and with
weights, PyTorch's interaction), probability targets (with weights and smoothing), an
all-ignored batch, and jnce's additions computed from their definitions in torch: a row mask
(class rows: as ignored rows; probability rows: multiplied out of the sum, mean over kept rows)
and the z-loss (lambda * logsumexp^2 per counted row, mean over counted rows).
Each case in float32 (torch's result) and float64 (from the same float32 inputs).

Run with Debian's python3 (torch 1.13 is importable only there):
    /usr/bin/python3 java/src/test/python/golden_cross_entropy_options.py
"""
import datetime
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import fmt, line  # noqa: E402  (same number format)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "golden",
                   "cross_entropy_options.txt")
REDUCTIONS = ("none", "mean", "sum")


def compute(c, reduction, dtype):
    """Loss and gradient (of loss.sum()) for one case dict, in dtype."""
    x = torch.from_numpy(c["logits"]).to(dtype).requires_grad_(True)
    w = None if c.get("weight") is None else torch.from_numpy(c["weight"]).to(dtype)
    ls = c.get("label_smoothing", 0.0)
    ii = c.get("ignore_index", -100)
    mask = c.get("row_mask")
    if "probs" in c:
        t = torch.from_numpy(c["probs"]).to(dtype)
        rows = F.cross_entropy(x, t, weight=w, reduction="none", label_smoothing=ls)
        keep = torch.ones(len(rows), dtype=dtype) if mask is None else torch.from_numpy(mask).to(dtype)
        rows = rows * keep
        ce = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / keep.sum()}[reduction]
        counted = keep
    else:
        y = torch.from_numpy(c["targets"].copy())
        if mask is not None:
            y[torch.from_numpy(mask) == 0] = ii  # a masked class row is an ignored row
        ce = F.cross_entropy(x, y, weight=w, ignore_index=ii, reduction=reduction, label_smoothing=ls)
        counted = (y != ii).to(dtype)
    z = c.get("z_loss", 0.0)
    if z > 0:
        lse2 = torch.logsumexp(x, 1) ** 2 * counted
        ce = ce + {"none": z * lse2, "sum": z * lse2.sum(), "mean": z * lse2.sum() / counted.sum()}[reduction]
    ce.sum().backward()
    return ce.detach().numpy(), x.grad.numpy()


def case_text(name, c, reduction):
    n, k = c["logits"].shape
    out = ["[%s_%s]" % (name, reduction), "reduction = " + reduction, "N = %d" % n, "C = %d" % k,
           line("logits", c["logits"])]
    if "probs" in c:
        out.append(line("probs", c["probs"]))
    else:
        out.append("targets = " + " ".join(str(int(v)) for v in c["targets"]))
    if c.get("weight") is not None:
        out.append(line("weight", c["weight"]))
    if c.get("row_mask") is not None:
        out.append("row_mask = " + " ".join(str(int(v)) for v in c["row_mask"]))
    out.append("ignore_index = %d" % c.get("ignore_index", -100))
    out.append("label_smoothing = " + fmt(np.float32(c.get("label_smoothing", 0.0))))
    out.append("z_loss = " + fmt(np.float32(c.get("z_loss", 0.0))))
    loss32, grad32 = compute(c, reduction, torch.float32)
    loss64, grad64 = compute(c, reduction, torch.float64)
    out += [line("loss", loss32), line("grad", grad32), line("loss_f64", loss64), line("grad_f64", grad64)]
    return "\n".join(out) + "\n"


def main():
    rng = np.random.default_rng(20261123)
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731

    def logits(n, k, scale=2.0):
        return f32(scale * rng.standard_normal((n, k)))

    def probs(n, k):
        p = rng.random((n, k)) ** 3
        return f32(p / p.sum(1, keepdims=True))

    def weight(k):
        return f32(0.25 + 2 * rng.random(k))

    cases = [
        ("weights_7x5", dict(logits=logits(7, 5), targets=rng.integers(0, 5, 7), weight=weight(5))),
        ("ignore_default_8x6", dict(logits=logits(8, 6), targets=np.array([0, -100, 5, 2, -100, 1, 3, 4]))),
        ("ignore_valid_class_8x6", dict(logits=logits(8, 6), targets=np.array([2, 0, 2, 5, 1, 2, 3, 4]),
                                        ignore_index=2)),
        ("smoothing_7x5", dict(logits=logits(7, 5), targets=rng.integers(0, 5, 7), label_smoothing=0.1)),
        ("weights_smoothing_ignore_10x7", dict(logits=logits(10, 7), targets=np.array([0, 6, -100, 3, 3, 1, -100, 2, 5, 4]),
                                               weight=weight(7), label_smoothing=0.2)),
        ("probs_6x5", dict(logits=logits(6, 5), probs=probs(6, 5))),
        ("probs_weights_smoothing_6x5", dict(logits=logits(6, 5), probs=probs(6, 5), weight=weight(5),
                                             label_smoothing=0.15)),
        ("probs_mask_6x5", dict(logits=logits(6, 5), probs=probs(6, 5), row_mask=np.array([1, 0, 1, 1, 0, 1], np.int32))),
        ("class_mask_6x5", dict(logits=logits(6, 5), targets=rng.integers(0, 5, 6),
                                row_mask=np.array([0, 1, 1, 0, 1, 1], np.int32), weight=weight(5))),
        ("zloss_weights_ignore_9x6", dict(logits=logits(9, 6, 4.0), targets=np.array([1, -100, 0, 5, 4, 4, 3, -100, 2]),
                                          weight=weight(6), z_loss=1e-2)),
        ("all_ignored_3x4", dict(logits=logits(3, 4), targets=np.array([-100, -100, -100]))),
        ("everything_8x300", dict(logits=logits(8, 300, 5.0), targets=np.where(rng.random(8) < 0.25, -100,
                                    rng.integers(0, 300, 8)), weight=weight(300), label_smoothing=0.1, z_loss=1e-4)),
    ]
    header = [
        "# Golden data for jnce's CrossEntropy options (F.cross_entropy with weight, ignore_index,",
        "# label_smoothing, probability targets; jnce's row mask and z-loss from their definitions).",
        "# Generated by java/src/test/python/golden_cross_entropy_options.py",
        "# torch %s, numpy %s, on %s. Do not edit: rerun the generator." % (
            torch.__version__, np.__version__, datetime.date.today().isoformat()),
        "# Format as cross_entropy.txt, plus: probs (N*C, instead of targets), weight (C),",
        "# row_mask (N, 0 = row left out), ignore_index, label_smoothing, z_loss.",
        "",
    ]
    parts = [case_text(name, c, r) for name, c in cases for r in REDUCTIONS]
    with open(OUT, "w") as f:
        f.write("\n".join(header) + "\n" + "\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(parts), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
