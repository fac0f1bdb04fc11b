#!/usr/bin/python3
"""Golden data for KL divergence, entropy, cross-entropy of distributions and perplexity,
computed by PyTorch.

Writes java/src/test/resources/golden/divergence.txt (read by dev.jnce.testutil.Golden /
dev.jnce.loss.DivergenceTest). Each case holds the float32 inputs, torch's float32 result and
gradients, and the same computed by torch in float64 from the float32 inputs upcast:

  kl_*       F.kl_div(input, target, reduction, log_target); gradients w.r.t. input and target
  entropy_*  torch.special.entr(p).sum(-1), reduced over rows; gradient w.r.t. p
  cross_*    -(p * torch.log(q)).sum(-1), reduced over rows; gradients w.r.t. p and q
             (q > 0 everywhere here, where this equals -xlogy(p, q) and jnce's gradients)
  ppl_*      torch.exp((loss * keep).sum() / keep.sum()); gradient w.r.t. the token losses

For reduction 'none' the gradients are those of loss.sum().

Run with Debian's python3-torch, importable only from the system interpreter:

    /usr/bin/python3 java/src/test/python/golden_divergence.py
"""
import datetime
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import line  # the shared text format of golden values

SEED = 20240612
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "divergence.txt"))
KL_REDUCTIONS = ("none", "mean", "sum", "batchmean")
ROW_REDUCTIONS = ("none", "mean", "sum")

warnings.filterwarnings("ignore", message="reduction: 'mean' divides")


def backward(fn, inputs32, dtype, reduction):
    """Runs fn on the inputs cast to dtype; returns the loss and the gradient of every input."""
    xs = [torch.from_numpy(a).to(dtype).requires_grad_(True) for a in inputs32]
    loss = fn(*xs)
    (loss.sum() if reduction == "none" else loss).backward()
    return [loss.detach().numpy()] + [x.grad.numpy() for x in xs]


def reduce_rows(rows, reduction):
    return rows if reduction == "none" else rows.mean() if reduction == "mean" else rows.sum()


def case(name, header, fn, inputs32, names, reduction):
    """header: list of 'key = value' lines; names: the input field names, in fn's order."""
    r32 = backward(fn, inputs32, torch.float32, reduction)
    r64 = backward(fn, inputs32, torch.float64, reduction)
    out = ["[%s]" % name] + header
    out += [line(n, a) for n, a in zip(names, inputs32)]
    out.append(line("loss", r32[0].astype(np.float32)))
    out += [line("grad_" + n, g.astype(np.float32)) for n, g in zip(names, r32[1:])]
    out.append(line("loss_f64", r64[0]))
    out += [line("grad_%s_f64" % n, g) for n, g in zip(names, r64[1:])]
    return "\n".join(out) + "\n"


def f32(a):
    return np.asarray(a, dtype=np.float32)


def distributions(rng, n, c, zeros=0):
    """n rows of c probabilities (float32, normalised in float64 first); zeros entries per row set to 0."""
    p = rng.uniform(0.05, 1.0, (n, c))
    for i in range(n):
        p[i, rng.choice(c, zeros, replace=False)] = 0.0
    return f32(p / p.sum(axis=1, keepdims=True))


def kl_cases(rng):
    out = []

    def add(base, x, t, log_target, reductions=KL_REDUCTIONS):
        for red in reductions:
            fn = lambda a, b, red=red: F.kl_div(a, b, reduction=red, log_target=bool(log_target))
            hdr = ["reduction = " + red, "log_target = %d" % log_target,
                   "shape = " + " ".join(str(d) for d in x.shape)]
            out.append(case("%s_%s" % (base, red), hdr, fn, [x, t], ["input", "target"], red))

    logq = lambda n, c: f32(np.log(distributions(rng, n, c)))
    add("kl_worked_2x3", f32(np.log([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])), f32([[0.1, 0.4, 0.5], [0.5, 0.25, 0.25]]), 0)
    add("kl_random_4x7", logq(4, 7), distributions(rng, 4, 7), 0)
    add("kl_zeros_in_target_3x5", logq(3, 5), distributions(rng, 3, 5, zeros=2), 0)
    add("kl_log_target_4x6", logq(4, 6), f32(np.log(distributions(rng, 4, 6))), 1)
    add("kl_single_1x2", f32(np.log([[0.3, 0.7]])), f32([[0.8, 0.2]]), 0)
    add("kl_single_log_target_1x2", f32(np.log([[0.3, 0.7]])), f32(np.log([[0.8, 0.2]])), 1)
    add("kl_rank3_2x3x4", f32(np.log(distributions(rng, 6, 4)).reshape(2, 3, 4)),
        distributions(rng, 6, 4).reshape(2, 3, 4), 0)
    # Not distributions: F.kl_div takes any values (a negative target gives NaN).
    add("kl_unnormalised_3x4", f32(rng.standard_normal((3, 4))), f32(rng.uniform(0.0, 2.0, (3, 4))), 0, ("sum",))
    add("kl_large_2x1000", logq(2, 1000), distributions(rng, 2, 1000, zeros=10), 0, ("batchmean",))
    add("kl_large_log_target_2x1000", logq(2, 1000), f32(np.log(distributions(rng, 2, 1000))), 1, ("mean",))
    return out


def row_cases(rng):
    out = []

    def add(base, inputs, reductions=ROW_REDUCTIONS):
        cross = len(inputs) == 2
        for red in reductions:
            if cross:
                fn = lambda p, q, red=red: reduce_rows(-(p * torch.log(q)).sum(-1), red)
            else:
                fn = lambda p, red=red: reduce_rows(torch.special.entr(p).sum(-1), red)
            n, c = inputs[0].shape
            hdr = ["reduction = " + red, "N = %d" % n, "C = %d" % c]
            out.append(case("%s_%s" % (base, red), hdr, fn, inputs, ["p", "q"][:len(inputs)], red))

    add("entropy_worked_2x3", [f32([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])])
    add("entropy_random_5x8", [distributions(rng, 5, 8)])
    add("entropy_zeros_3x6", [distributions(rng, 3, 6, zeros=2)])  # gradient +Inf at the zeros
    add("entropy_one_hot_2x4", [f32([[0, 1, 0, 0], [0.5, 0, 0.5, 0]])])
    add("entropy_single_1x2", [f32([[0.25, 0.75]])])
    add("entropy_large_2x1000", [distributions(rng, 2, 1000)], ("mean",))
    add("cross_worked_2x3", [f32([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]), f32([[0.1, 0.4, 0.5], [0.5, 0.25, 0.25]])])
    add("cross_random_5x8", [distributions(rng, 5, 8), distributions(rng, 5, 8)])
    add("cross_zeros_in_p_3x6", [distributions(rng, 3, 6, zeros=2), distributions(rng, 3, 6)])
    add("cross_single_1x2", [f32([[0.25, 0.75]]), f32([[0.5, 0.5]])])
    add("cross_large_2x1000", [distributions(rng, 2, 1000), distributions(rng, 2, 1000)], ("sum",))
    return out


def ppl_cases(rng):
    out = []

    def add(name, losses, keys, ignore, mask):
        keep = torch.from_numpy(keys != ignore) if not mask else torch.from_numpy(keys != 0)
        fn = lambda l: torch.exp((l * keep.to(l.dtype)).sum() / keep.sum())
        hdr = ["form = " + ("mask" if mask else "targets"), "ignore_index = %d" % ignore,
               "keys = " + " ".join(str(int(k)) for k in keys.reshape(-1))]
        out.append(case(name, hdr, fn, [losses], ["token_loss"], "mean"))

    l8 = f32(rng.uniform(0.1, 4.0, 8))
    add("ppl_targets_8", l8, np.array([3, -100, 7, 1, -100, 0, 2, 5]), -100, False)
    add("ppl_targets_ignore0_8", l8, np.array([3, 0, 7, 1, 0, 0, 2, 5]), 0, False)
    add("ppl_mask_8", l8, np.array([1, 1, 0, 1, 0, 1, 1, 1]), 0, True)
    add("ppl_none_ignored_5", f32(rng.uniform(0.1, 4.0, 5)), np.array([1, 2, 3, 4, 5]), -100, False)
    add("ppl_one_kept_4", f32(rng.uniform(0.1, 4.0, 4)), np.array([-100, -100, 9, -100]), -100, False)
    add("ppl_single_1", f32([2.5]), np.array([4]), -100, False)
    t = rng.integers(0, 50000, 1000)
    t[rng.choice(1000, 300, replace=False)] = -100
    add("ppl_large_1000", f32(rng.uniform(0.0, 12.0, 1000)), t, -100, False)
    return out


def main():
    rng = np.random.default_rng(SEED)
    header = [
        "# Golden data for KL divergence, entropy, cross-entropy of distributions and perplexity.",
        "# Generated by java/src/test/python/golden_divergence.py (seed %d)" % SEED,
        "# torch %s, numpy %s, Python %s, on %s" % (torch.__version__, np.__version__,
                                                    sys.version.split()[0],
                                                    datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator.",
        "#",
        "# Format: '#' lines are comments; each case starts with [name] and holds one",
        "# 'key = v1 v2 ...' line per field. Values are repr() of float32 values widened to double",
        "# (they read back exactly), Infinity / -Infinity / NaN in Java's spelling.",
        "#   kl_*      reduction (none|mean|sum|batchmean), log_target (0|1), shape, input, target",
        "#   entropy_* reduction (none|mean|sum), N, C, p",
        "#   cross_*   reduction, N, C, p, q",
        "#   ppl_*     form (targets|mask), ignore_index, keys (targets or 0/1 mask), token_loss",
        "# then: loss (torch float32: N*C values, N or 1), grad_<input> for every float input",
        "# (torch float32 autograd; for reduction none, of loss.sum()), and loss_f64 /",
        "# grad_<input>_f64: the same by torch in float64 from the float32 inputs upcast.",
        "# Where a probability target of kl is 0, grad_target is NaN (torch's autograd);",
        "# where p of entropy is 0, grad_p is Infinity.",
    ]
    parts = ["\n".join(header) + "\n"] + kl_cases(rng) + row_cases(rng) + ppl_cases(rng)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(parts) - 1, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
