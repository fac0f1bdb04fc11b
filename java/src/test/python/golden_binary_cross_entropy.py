#!/usr/bin/python3
"""Golden data for binary cross-entropy, computed by PyTorch.

Writes java/src/test/resources/golden/binary_cross_entropy.txt (read by
dev.jnce.loss.BinaryCrossEntropyTest): for each case the float32 input and target (and
weight / pos_weight when present), torch.nn.functional.binary_cross_entropy's (op bce) or
binary_cross_entropy_with_logits's (op bce_logits) float32 loss and its gradients with
respect to input and target, and the same computed by torch in float64 from the float32
values upcast. Edge cases: probabilities exactly 0 and 1 (the -100 clamp; +-Inf target
gradients), logits +-100 and +-1e4, soft targets, N=1, per-class and element-wise weights,
pos_weight, inputs of rank 0 to 3.

Run with Debian's python3-torch (importable only from the system interpreter):

    /usr/bin/python3 java/src/test/python/golden_binary_cross_entropy.py
"""
import datetime
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import line

SEED = 20240612
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "binary_cross_entropy.txt"))
REDUCTIONS = ("none", "mean", "sum")


def run_torch(op, x32, y32, w32, pw32, reduction, dtype):
    x = torch.from_numpy(x32).to(dtype).requires_grad_(True)
    y = torch.from_numpy(y32).to(dtype).requires_grad_(True)
    w = None if w32 is None else torch.from_numpy(w32).to(dtype)
    if op == "bce":
        loss = F.binary_cross_entropy(x, y, weight=w, reduction=reduction)
    else:
        pw = None if pw32 is None else torch.from_numpy(pw32).to(dtype)
        loss = F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw, reduction=reduction)
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach().numpy(), x.grad.numpy(), y.grad.numpy()


def case_text(name, op, x32, y32, w32, pw32, reduction):
    r32 = run_torch(op, x32, y32, w32, pw32, reduction, torch.float32)
    r64 = run_torch(op, x32, y32, w32, pw32, reduction, torch.float64)
    out = ["[%s]" % name, "op = " + op, "reduction = " + reduction,
           "shape = " + " ".join(str(d) for d in x32.shape), line("input", x32), line("target", y32)]
    if w32 is not None:
        out += ["weight_shape = " + " ".join(str(d) for d in w32.shape), line("weight", w32)]
    if pw32 is not None:
        out += ["pos_weight_shape = " + " ".join(str(d) for d in pw32.shape), line("pos_weight", pw32)]
    for suffix, (loss, gx, gy) in (("", r32), ("_f64", r64)):
        if suffix == "":
            loss, gx, gy = (a.astype(np.float32) for a in (loss, gx, gy))
        assert not np.any(np.isnan(loss)) and not np.any(np.isnan(gx)) and not np.any(np.isnan(gy)), name
        out += [line("loss" + suffix, loss), line("grad_input" + suffix, gx), line("grad_target" + suffix, gy)]
    return "\n".join(out) + "\n"


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    probs = lambda shape: f32(rng.uniform(0.02, 0.98, shape))
    soft = lambda shape: f32(rng.uniform(0, 1, shape))
    hard = lambda shape: f32(rng.integers(0, 2, shape))
    normal = lambda shape, s=1.0: f32(s * rng.standard_normal(shape))

    cases = []  # (base name, op, input, target, weight, pos_weight)
    cases.append(("bce_multilabel_6x4", "bce", probs((6, 4)), hard((6, 4)), None, None))
    cases.append(("bce_soft_9", "bce", probs(9), soft(9), None, None))
    cases.append(("bce_single_1", "bce", f32([0.3]), f32([1.0]), None, None))
    cases.append(("bce_scalar", "bce", f32(0.7), f32(0.25), None, None))
    cases.append(("bce_weight_per_class_5x3", "bce", probs((5, 3)), soft((5, 3)), f32([0.5, 2.0, 0.0]), None))
    cases.append(("bce_weight_elementwise_4x3", "bce", probs((4, 3)), hard((4, 3)), f32(rng.uniform(0, 2, (4, 3))), None))
    cases.append(("bce_rank3_2x3x4_weight4", "bce", probs((2, 3, 4)), soft((2, 3, 4)), f32(rng.uniform(0, 2, 4)), None))
    # p exactly 0 and 1 (logs clamped to -100; target gradient +-Inf), and p next to them.
    cases.append(("bce_saturated_8", "bce", f32([0, 0, 0, 1, 1, 1, 1e-30, 0.99999994]),
                  f32([0, 1, 0.5, 0, 1, 0.5, 1, 0]), None, None))
    cases.append(("logits_multilabel_6x4", "bce_logits", normal((6, 4), 3), hard((6, 4)), None, None))
    cases.append(("logits_soft_9", "bce_logits", normal(9, 2), soft(9), None, None))
    cases.append(("logits_single_1", "bce_logits", f32([-0.7]), f32([1.0]), None, None))
    cases.append(("logits_scalar", "bce_logits", f32(1.5), f32(0.4), None, None))
    cases.append(("logits_pos_weight_5x3", "bce_logits", normal((5, 3), 2), hard((5, 3)), None, f32([3.0, 0.5, 0.0])))
    cases.append(("logits_weight_and_pos_weight_4x3", "bce_logits", normal((4, 3), 2), soft((4, 3)),
                  f32(rng.uniform(0, 2, (4, 3))), f32([1.0, 2.5, 0.25])))
    cases.append(("logits_rank3_2x3x4_weight4", "bce_logits", normal((2, 3, 4), 2), soft((2, 3, 4)),
                  f32(rng.uniform(0, 2, 4)), f32(rng.uniform(0, 3, 4))))
    big = f32([100, -100, 1e4, -1e4, 100, -100, 1e4, -1e4, 30, -30])
    cases.append(("logits_large_10", "bce_logits", big, f32([1, 1, 1, 1, 0, 0, 0.3, 0.3, 0.5, 0.5]), None, None))
    cases.append(("logits_large_pos_weight_5x2", "bce_logits", big.reshape(5, 2),
                  f32([1, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]).reshape(5, 2), None, f32([2.0, 0.5])))
    cases.append(("logits_many_16x40", "bce_logits", normal((16, 40), 4), soft((16, 40)), None, None))

    header = [
        "# Golden data for binary cross-entropy (torch.nn.functional.binary_cross_entropy,",
        "# binary_cross_entropy_with_logits).",
        "# Generated by java/src/test/python/golden_binary_cross_entropy.py (seed %d)" % SEED,
        "# torch %s, numpy %s, Python %s, on %s" % (torch.__version__, np.__version__, sys.version.split()[0],
                                                    datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator.",
        "#",
        "# Format as cross_entropy.txt: [name], then 'key = v1 v2 ...' lines:",
        "#   op           bce (probabilities) | bce_logits",
        "#   reduction    none | mean | sum",
        "#   shape        the shape of input and target (empty for a 0-dim tensor)",
        "#   input, target   float32 values, row-major (repr() of the float32 widened to double)",
        "#   weight_shape, weight, pos_weight_shape, pos_weight   present only when used",
        "#   loss         torch's float32 loss: one value for mean and sum, numel values for none",
        "#   grad_input, grad_target   torch's float32 gradients (for none, of loss.sum())",
        "#   loss_f64, grad_input_f64, grad_target_f64   the same computed by torch in float64",
        "# Non-finite values are written Infinity / -Infinity.",
    ]
    parts = ["\n".join(header) + "\n"]
    for base, op, x, y, w, pw in cases:
        for red in REDUCTIONS:
            parts.append(case_text("%s_%s" % (base, red), op, x, y, w, pw, red))
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(cases) * len(REDUCTIONS), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
