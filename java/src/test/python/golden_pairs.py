#!/usr/bin/python3
"""Golden data for the paired contrastive losses NT-Xent (SimCLR), CLIP's symmetric loss and
SigLIP's pairwise sigmoid loss, computed by PyTorch from their definitions with autograd.

Writes java/src/test/resources/golden/pairs.txt (read by NtXentTest, ClipLossTest and
SigLipLossTest): for each case the float32 inputs, the loss, and the gradients of every
embedding input and of the scalar parameters (temperature, logit scale, bias), computed by torch
in float32 and in float64 from the same float32 values upcast.

Run with Debian's python3-torch, importable only from the system interpreter:

    /usr/bin/python3 java/src/test/python/golden_pairs.py
"""
import datetime
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import fmt, line  # noqa: E402

SEED = 20240917
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "golden", "pairs.txt"))


def nt_xent(views, tau, normalize, decoupled, reduction):
    """views (2N,D): row i's positive is row (i+N) mod 2N; the row itself takes no part."""
    rows = views.shape[0]
    z = F.normalize(views, dim=1) if normalize else views
    sim = z @ z.T / tau
    eye = torch.eye(rows, dtype=torch.bool)
    targets = (torch.arange(rows) + rows // 2) % rows
    sim = sim.masked_fill(eye, float("-inf"))
    if not decoupled:
        return F.cross_entropy(sim, targets, reduction=reduction)
    positive = sim[torch.arange(rows), targets]
    others = sim.masked_fill(F.one_hot(targets, rows).bool(), float("-inf"))
    per_row = torch.logsumexp(others, dim=1) - positive
    return {"none": per_row, "mean": per_row.mean(), "sum": per_row.sum()}[reduction]


def clip(a, b, scale, bias, normalize, reduction):
    """logits = scale * â b̂ᵀ + bias; the mean of the two directions' cross-entropies."""
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = scale * (a @ b.T) + bias
    labels = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, labels, reduction=reduction)
            + F.cross_entropy(logits.T, labels, reduction=reduction)) / 2


def siglip(a, b, scale, bias, normalize, reduction):
    """-sum log sigmoid(label * z) / N (mean) or the sum, label +1 on the diagonal, -1 elsewhere."""
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    z = scale * (a @ b.T) + bias
    n = a.shape[0]
    labels = 2 * torch.eye(n, dtype=z.dtype) - 1
    total = -F.logsigmoid(labels * z).sum()
    return total / n if reduction == "mean" else total


def run(fn, tensors, scalars, options, dtype):
    """fn(*tensors, *scalars, *options) in dtype; the loss and the gradients of every tensor and scalar."""
    ts = [torch.from_numpy(x).to(dtype).requires_grad_(True) for x in tensors]
    ss = [torch.tensor(float(s), dtype=dtype, requires_grad=True) for s in scalars]
    loss = fn(*ts, *ss, *options)
    loss.sum().backward()
    grads = [t.grad.numpy() for t in ts] + [np.float64(s.grad.item()) for s in ss]
    return loss.detach().numpy(), grads


def case(name, kind, fn, tensor_names, tensors, scalar_names, scalars, normalize, reduction, extra=()):
    scalars = [float(np.float32(s)) for s in scalars]
    options = (normalize,) + tuple(extra) + (reduction,)
    n, d = tensors[0].shape
    out = ["[%s]" % name, "kind = " + kind, "reduction = " + reduction, "N = %d" % n, "D = %d" % d,
           "normalize = " + ("true" if normalize else "false")]
    if kind == "ntxent":
        out.append("decoupled = " + ("true" if extra[0] else "false"))
    out += [line(k, [v]) for k, v in zip(scalar_names, scalars)]
    out += [line(k, v) for k, v in zip(tensor_names, tensors)]
    grad_names = ["grad_" + k for k in tensor_names + scalar_names]
    for suffix, dtype in (("", torch.float32), ("_f64", torch.float64)):
        loss, grads = run(fn, tensors, scalars, options, dtype)
        for arr in [loss] + grads:
            assert np.all(np.isfinite(arr)), name + ": non-finite result"
        cast = (lambda v: np.asarray(v, dtype=np.float32)) if dtype == torch.float32 else np.asarray
        out.append(line("loss" + suffix, cast(loss)))
        out += [line(k + suffix, cast(g)) for k, g in zip(grad_names, grads)]
    return "\n".join(out) + "\n", loss


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape: np.asarray(rng.standard_normal(shape), dtype=np.float32)
    cases = []

    # NT-Xent: N samples, 2N views.
    def ntxent(name, n, d, tau, normalize=True, decoupled=False, reduction="mean", views=None):
        views = f32(2 * n, d) if views is None else views
        fn = lambda v, t, norm, dec, red: nt_xent(v, t, norm, dec, red)
        cases.append(case(name, "ntxent", fn, ["views"], [views], ["tau"], [tau], normalize, reduction, (decoupled,)))

    for red in ("mean", "sum", "none"):
        ntxent("ntxent_4x3_" + red, 4, 3, 0.5, reduction=red)
        ntxent("ntxent_decoupled_5x6_" + red, 5, 6, 0.3, decoupled=True, reduction=red)
    ntxent("ntxent_raw_6x4_mean", 6, 4, 0.7, normalize=False)
    ntxent("ntxent_raw_decoupled_7x5_sum", 7, 5, 1.5, normalize=False, decoupled=True, reduction="sum")
    ntxent("ntxent_2x8_tau0.05_mean", 2, 8, 0.05)  # the smallest batch: 4 views
    close = f32(8, 16)
    close = np.concatenate([close, close + np.float32(0.05) * f32(8, 16)]).astype(np.float32)
    ntxent("ntxent_close_pairs_8x16_tau0.1_mean", 8, 16, 0.1, views=close)
    zero = f32(6, 5)
    zero[4] = 0.0  # a zero view: F.normalize leaves it 0 (norm below eps), its gradient is scaled by 1/eps
    ntxent("ntxent_zero_row_3x5_mean", 3, 5, 0.5, views=zero)
    ntxent("ntxent_48x32_mean", 48, 32, 0.5)

    # CLIP: N pairs.
    def clip_case(name, n, d, scale, bias=0.0, normalize=True, reduction="mean", zero_row=None):
        a = f32(n, d)
        if zero_row is not None:
            a[zero_row] = 0.0
        cases.append(case(name, "clip", clip, ["a", "b"], [a, f32(n, d)], ["scale", "bias"],
                          [scale, bias], normalize, reduction))

    for red in ("mean", "sum", "none"):
        clip_case("clip_4x3_" + red, 4, 3, 1 / 0.07, reduction=red)
    clip_case("clip_bias_6x8_mean", 6, 8, 5.0, bias=-3.0)
    clip_case("clip_raw_5x4_sum", 5, 4, 0.8, normalize=False, reduction="sum")
    clip_case("clip_7x16_scale100_none", 7, 16, 100.0, reduction="none")
    clip_case("clip_2x5_mean", 2, 5, 2.0)
    clip_case("clip_zero_row_4x6_sum", 4, 6, 3.0, reduction="sum", zero_row=1)
    clip_case("clip_48x32_mean", 48, 32, 1 / 0.07)

    # SigLIP: N pairs, scale 10 and bias -10 by default.
    def siglip_case(name, n, d, scale=10.0, bias=-10.0, normalize=True, reduction="mean", zero_row=None):
        b = f32(n, d)
        if zero_row is not None:
            b[zero_row] = 0.0
        cases.append(case(name, "siglip", siglip, ["a", "b"], [f32(n, d), b], ["scale", "bias"],
                          [scale, bias], normalize, reduction))

    siglip_case("siglip_4x3_mean", 4, 3)
    siglip_case("siglip_4x3_sum", 4, 3, reduction="sum")
    siglip_case("siglip_6x8_scale3_bias1_mean", 6, 8, scale=3.0, bias=1.0)
    siglip_case("siglip_raw_5x4_sum", 5, 4, scale=0.5, bias=-0.25, normalize=False, reduction="sum")
    siglip_case("siglip_8x16_scale50_bias-5_mean", 8, 16, scale=50.0, bias=-5.0)
    siglip_case("siglip_1x4_mean", 1, 4)
    siglip_case("siglip_zero_row_4x6_mean", 4, 6, scale=2.0, bias=-1.0, zero_row=3)
    siglip_case("siglip_48x32_mean", 48, 32)

    header = [
        "# Golden data for NT-Xent (SimCLR), the symmetric CLIP loss and the SigLIP sigmoid loss,",
        "# computed by torch autograd from the definitions in the generator.",
        "# Generated by java/src/test/python/golden_pairs.py (seed %d)" % SEED,
        "# torch %s, numpy %s, Python %s, on %s" % (torch.__version__, np.__version__, sys.version.split()[0],
                                                    datetime.date.today().isoformat()),
        "# Do not edit: rerun the generator with /usr/bin/python3.",
        "#",
        "# Format: '#' lines are comments; each case starts with [name] and holds one",
        "# 'key = v1 v2 ...' line per field. Float inputs are float32 values written as repr() of the",
        "# value widened to double; outputs without suffix are torch's float32 results, those ending",
        "# _f64 torch's float64 results from the same inputs upcast.",
        "#   kind        ntxent | clip | siglip",
        "#   reduction   none | mean | sum (none: per-row losses; gradients are those of their sum)",
        "#   N, D        rows and features of the first input: for ntxent N is 2 * samples (the views)",
        "#   normalize   true: cosine similarity (F.normalize rows); false: dot product",
        "#   decoupled   ntxent only: the positive is left out of the denominator too",
        "#   tau         ntxent's temperature; scale, bias: the logit scale and bias of clip and siglip",
        "#   views | a, b          the embeddings, row-major",
        "#   loss, grad_<input>    the loss and its gradient w.r.t. each input and scalar parameter",
    ]
    parts = ["\n".join(header) + "\n"] + [text for text, _ in cases]
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print("wrote %s (%d cases, %d bytes)" % (OUT, len(cases), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
