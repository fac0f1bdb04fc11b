#!/usr/bin/python3
"""Golden data for focal losses, computed by PyTorch's autograd from their definitions.

Writes java/src/test/resources/golden/focal.txt (read by dev.jnce.loss.FocalLossTest):
  op sigmoid: torchvision.ops.sigmoid_focal_loss, whose body is reproduced below (torchvision
              is not installed next to Debian's torch); gradients w.r.t. input and target.
  op softmax: -alpha[t] (1 - p_t)^gamma log p_t with p = softmax(logits) (no torch builtin);
              gradient w.r.t. the logits.
Each in float32 and in float64 from the float32 values upcast. Edge cases: logits +-100 and
+-1e4 (gamma >= 1 only: for gamma < 1 autograd's 0 * Inf is NaN there), soft targets, N=1,
gamma 0 (plain BCE / cross-entropy), alpha off.

Run with Debian's python3-torch (importable only from the system interpreter):

    /usr/bin/python3 java/src/test/python/golden_focal.py
"""
import datetime
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import fmt, line

SEED = 20240613
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "focal.txt"))
REDUCTIONS = ("none", "mean", "sum")


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss (torchvision 0.14), verbatim apart from the docstring."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


def softmax_focal_loss(logits, targets, alpha, gamma, reduction):
    logp_t = F.log_softmax(logits, dim=1).gather(1, targets[:, None])[:, 0]
    a = 1.0 if alpha is None else alpha[targets]
    loss = -a * (1 - logp_t.exp()) ** gamma * logp_t
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def run_torch(c, reduction, dtype):
    x = torch.from_numpy(c["input"]).to(dtype).requires_grad_(True)
    if c["op"] == "sigmoid":
        y = torch.from_numpy(c["target"]).to(dtype).requires_grad_(True)
        loss = sigmoid_focal_loss(x, y, c["alpha"], c["gamma"], reduction)
    else:
        y = torch.from_numpy(c["target"])
        alpha = None if c["alpha"] is None else torch.from_numpy(c["alpha"]).to(dtype)
        loss = softmax_focal_loss(x, y, alpha, c["gamma"], reduction)
    (loss.sum() if reduction == "none" else loss).backward()
    grads = [x.grad.numpy()] + ([y.grad.numpy()] if c["op"] == "sigmoid" else [])
    return [loss.detach().numpy()] + grads


def case_text(name, c, reduction):
    x = c["input"]
    out = ["[%s]" % name, "op = " + c["op"], "reduction = " + reduction, "gamma = " + fmt(c["gamma"]),
           "shape = " + " ".join(str(d) for d in x.shape), line("input", x)]
    if c["op"] == "sigmoid":
        out += ["alpha = " + fmt(c["alpha"]), line("target", c["target"])]
    else:
        out += ["target = " + " ".join(str(int(t)) for t in c["target"])]
        if c["alpha"] is not None:
            out += [line("alpha", c["alpha"])]
    keys = ["loss", "grad_input", "grad_target"]
    for suffix, dtype in (("", torch.float32), ("_f64", torch.float64)):
        for key, value in zip(keys, run_torch(c, reduction, dtype)):
            assert np.all(np.isfinite(value)), name + ": non-finite " + key
            out.append(line(key + suffix, value.astype(np.float32) if suffix == "" else value))
    return "\n".join(out) + "\n"


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    normal = lambda shape, s=1.0: f32(s * rng.standard_normal(shape))
    sig = lambda x, y, alpha=0.25, gamma=2.0: dict(op="sigmoid", input=x, target=y, alpha=alpha, gamma=gamma)
    smx = lambda x, t, alpha=None, gamma=2.0: dict(op="softmax", input=x, target=np.asarray(t, dtype=np.int64),
                                                   alpha=alpha, gamma=gamma)
    cases = [
        ("sigmoid_default_6x4", sig(normal((6, 4), 3), f32(rng.integers(0, 2, (6, 4))))),
        ("sigmoid_soft_9", sig(normal(9, 2), f32(rng.uniform(0, 1, 9)))),
        ("sigmoid_no_alpha_gamma_half_8", sig(normal(8, 2), f32(rng.uniform(0, 1, 8)), -1.0, 0.5)),
        ("sigmoid_gamma0_is_bce_7", sig(normal(7, 2), f32(rng.integers(0, 2, 7)), -1.0, 0.0)),
        ("sigmoid_alpha_075_gamma1_2x3x2", sig(normal((2, 3, 2), 2), f32(rng.uniform(0, 1, (2, 3, 2))), 0.75, 1.0)),
        ("sigmoid_single_1", sig(f32([0.4]), f32([1.0]))),
        ("sigmoid_large_10", sig(f32([100, -100, 1e4, -1e4, 100, -100, 1e4, -1e4, 30, -30]),
                                 f32([1, 1, 1, 1, 0, 0, 0.3, 0.3, 0.5, 0.5]))),
        ("softmax_default_7x5", smx(normal((7, 5), 2), rng.integers(0, 5, 7))),
        ("softmax_alpha_gamma_half_6x4", smx(normal((6, 4), 2), rng.integers(0, 4, 6), f32(rng.uniform(0.1, 1, 4)), 0.5)),
        ("softmax_gamma0_is_ce_5x3", smx(normal((5, 3), 2), rng.integers(0, 3, 5), None, 0.0)),
        ("softmax_gamma1_alpha_8x10", smx(normal((8, 10), 3), rng.integers(0, 10, 8), f32(rng.uniform(0, 2, 10)), 1.0)),
        ("softmax_single_1x2", smx(f32([[0.25, -1.5]]), [1], None, 3.0)),
        ("softmax_large_4x3", smx(f32([[100, -100, 0], [1e4, -1e4, 0], [-1e4, 1e4, 0], [30, 0, -30]]), [0, 0, 0, 2])),
        ("softmax_confident_3x4", smx(f32([[12, 0, 1, -2], [20, 3, 3, 3], [0, 15, 0, 0]]), [0, 0, 1], None, 2.0)),
        ("softmax_many_16x50", smx(normal((16, 50), 4), rng.integers(0, 50, 16), f32(rng.uniform(0, 1, 50)), 2.0)),
    ]
    header = [
        "# Golden data for focal losses: torchvision.ops.sigmoid_focal_loss (its formula) and the",
        "# softmax focal loss -alpha[t] (1 - p_t)^gamma log p_t, differentiated by torch autograd.",
        "# Generated by java/src/test/python/golden_focal.py (seed %d)" % SEED,
        "# torch %s, numpy %s, Python %s, on %s" % (torch.__version__, np.__version__, sys.version.split()[0],
                                                    datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator.",
        "#",
        "# Format as cross_entropy.txt: [name], then 'key = v1 v2 ...' lines:",
        "#   op           sigmoid | softmax",
        "#   reduction    none | mean | sum        gamma   the focusing exponent",
        "#   shape        of input ((N, C) for softmax)",
        "#   input        float32 logits, row-major (repr() of the float32 widened to double)",
        "#   alpha        sigmoid: the scalar alpha (negative: off); softmax: C per-class values, absent = 1",
        "#   target       sigmoid: float32 like input; softmax: N int64 class indices",
        "#   loss         torch's float32 loss: one value for mean and sum, one per element/row for none",
        "#   grad_input   torch's float32 gradient w.r.t. input (for none, of loss.sum())",
        "#   grad_target  sigmoid only: the gradient w.r.t. target",
        "#   *_f64        the same computed by torch in float64 from the float32 values upcast",
    ]
    parts = ["\n".join(header) + "\n"]
    for base, c in cases:
        for red in REDUCTIONS:
            parts.append(case_text("%s_%s" % (base, red), c, red))
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(cases) * len(REDUCTIONS), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
