#!/usr/bin/python3
"""Golden data for jnce's LinearCrossEntropy, from PyTorch.

Writes java/src/test/resources/golden/linear_cross_entropy.txt: F.cross_entropy(F.linear(h, W, b), y)
with class weights, ignore_index, label_smoothing, jnce's z-loss (lambda * logsumexp^2 per counted
row, mean over counted rows) and the tanh soft-cap (c * tanh(s / c), Gemma 2), over the three
reductions; the gradients of h, W and b (of loss.sum()) and the per-row logsumexp of the (capped)
logits. Each case in float32 (torch's result) and float64 (from the same float32 inputs).

Run with Debian's python3 (torch 1.13 is importable only there):
    /usr/bin/python3 java/src/test/python/golden_linear_cross_entropy.py
"""
import datetime
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import fmt, line  # noqa: E402

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "golden",
                   "linear_cross_entropy.txt")
REDUCTIONS = ("none", "mean", "sum")


def compute(c, reduction, dtype):
    h = torch.from_numpy(c["hidden"]).to(dtype).requires_grad_(True)
    w = torch.from_numpy(c["classifier"]).to(dtype).requires_grad_(True)
    b = None if c.get("bias") is None else torch.from_numpy(c["bias"]).to(dtype).requires_grad_(True)
    cw = None if c.get("weight") is None else torch.from_numpy(c["weight"]).to(dtype)
    ii = c.get("ignore_index", -100)
    y = torch.from_numpy(c["targets"].copy())
    s = F.linear(h, w, b)
    cap = c.get("softcap", 0.0)
    if cap > 0:
        s = cap * torch.tanh(s / cap)
    ce = F.cross_entropy(s, y, weight=cw, ignore_index=ii, reduction=reduction,
                         label_smoothing=c.get("label_smoothing", 0.0))
    lse = torch.logsumexp(s, 1)
    z = c.get("z_loss", 0.0)
    if z > 0:
        counted = (y != ii).to(dtype)
        lse2 = lse ** 2 * counted
        ce = ce + {"none": z * lse2, "sum": z * lse2.sum(), "mean": z * lse2.sum() / counted.sum()}[reduction]
    ce.sum().backward()
    grads = [h.grad.numpy(), w.grad.numpy(), None if b is None else b.grad.numpy()]
    return ce.detach().numpy(), grads, lse.detach().numpy()


def case_text(name, c, reduction):
    n, d = c["hidden"].shape
    v = c["classifier"].shape[0]
    out = ["[%s_%s]" % (name, reduction), "reduction = " + reduction, "N = %d" % n, "D = %d" % d, "V = %d" % v,
           line("hidden", c["hidden"]), line("classifier", c["classifier"]),
           "targets = " + " ".join(str(int(t)) for t in c["targets"])]
    if c.get("bias") is not None:
        out.append(line("bias", c["bias"]))
    if c.get("weight") is not None:
        out.append(line("weight", c["weight"]))
    out.append("ignore_index = %d" % c.get("ignore_index", -100))
    out.append("label_smoothing = " + fmt(np.float32(c.get("label_smoothing", 0.0))))
    out.append("z_loss = " + fmt(np.float32(c.get("z_loss", 0.0))))
    out.append("softcap = " + fmt(np.float32(c.get("softcap", 0.0))))
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_f64")):
        loss, (gh, gw, gb), lse = compute(c, reduction, dtype)
        out += [line("loss" + suffix, loss), line("grad_hidden" + suffix, gh), line("grad_classifier" + suffix, gw),
                line("lse" + suffix, lse)]
        if gb is not None:
            out.append(line("grad_bias" + suffix, gb))
    return "\n".join(out) + "\n"


def main():
    rng = np.random.default_rng(20261203)
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731

    def mat(r, k, scale=1.0):
        return f32(scale * rng.standard_normal((r, k)))

    def case(n, d, v, **kw):
        c = dict(hidden=mat(n, d), classifier=mat(v, d, 0.5), targets=rng.integers(0, v, n))
        c.update(kw)
        return c

    cases = [
        ("plain_6x4x5", case(6, 4, 5)),
        ("bias_7x3x6", case(7, 3, 6, bias=mat(1, 6)[0])),
        ("weights_ignore_smoothing_9x5x7", case(9, 5, 7, bias=mat(1, 7)[0], weight=f32(0.25 + 2 * rng.random(7)),
                                               label_smoothing=0.1,
                                               targets=np.array([0, -100, 6, 3, 3, -100, 1, 2, 5]))),
        ("zloss_weights_8x4x6", case(8, 4, 6, weight=f32(0.5 + rng.random(6)), z_loss=1e-2,
                                     targets=np.array([1, -100, 0, 5, 4, 4, 3, 2]))),
        ("softcap_bias_6x5x9", case(6, 5, 9, bias=mat(1, 9)[0], softcap=1.5)),
        ("all_ignored_3x4x5", case(3, 4, 5, targets=np.array([-100, -100, -100]))),
        ("everything_20x8x64", case(20, 8, 64, bias=mat(1, 64)[0], weight=f32(0.25 + 2 * rng.random(64)),
                                      label_smoothing=0.05, z_loss=1e-4, softcap=4.0,
                                      targets=np.where(rng.random(20) < 0.25, -100, rng.integers(0, 64, 20)))),
    ]
    header = [
        "# Golden data for jnce's LinearCrossEntropy: F.cross_entropy(F.linear(hidden, classifier, bias), targets)",
        "# with weight, ignore_index, label_smoothing, and jnce's z-loss and softcap from their definitions.",
        "# Generated by java/src/test/python/golden_linear_cross_entropy.py",
        "# torch %s, numpy %s, on %s. Do not edit: rerun the generator." % (
            torch.__version__, np.__version__, datetime.date.today().isoformat()),
        "# Gradients are of loss.sum(); lse is torch.logsumexp of the (capped) logits.",
        "",
    ]
    parts = [case_text(name, c, r) for name, c in cases for r in REDUCTIONS]
    with open(OUT, "w") as f:
        f.write("\n".join(header) + "\n" + "\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(parts), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
