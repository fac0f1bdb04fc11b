#!/usr/bin/python3
"""Golden data for L2 normalisation, similarity matrices, row-wise cosine similarity and
hard-negative mining, computed by PyTorch (Debian's python3-torch, importable only from the
system interpreter):

    /usr/bin/python3 java/src/test/python/golden_similarity.py

Writes java/src/test/resources/golden/similarity.txt, read by the tests in dev.jnce.ops.
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import header, ints, line, out_path, run_both, write

SEED = 20240612


def normalize_case(name, x, dy, eps):
    (y32, g32), (y64, g64) = run_both(lambda t: _normalize(t, dy, eps), [x])
    n, d = x.shape
    return "\n".join(["[%s]" % name, "op = normalize", "N = %d" % n, "D = %d" % d, "eps = %r" % eps,
                      line("x", x), line("dy", dy), line("y", y32), line("dx", g32[0]),
                      line("y_f64", y64), line("dx_f64", g64[0])]) + "\n"


def _normalize(x, dy, eps):
    y = F.normalize(x, p=2, dim=-1, eps=eps)
    (gx,) = torch.autograd.grad(y, [x], torch.from_numpy(dy).to(x.dtype))
    return y, [gx]


def matrix_case(name, kind, a, b, ds, scale):
    def fn(ta, tb):
        if kind == "cosine":
            s = scale * (F.normalize(ta, dim=-1) @ F.normalize(tb, dim=-1).T)
        else:
            s = scale * (ta @ tb.T)
        return s, torch.autograd.grad(s, [ta, tb], torch.from_numpy(ds).to(ta.dtype))
    (s32, g32), (s64, g64) = run_both(fn, [a, b])
    return "\n".join(["[%s]" % name, "op = " + kind, "N = %d" % a.shape[0], "M = %d" % b.shape[0],
                      "D = %d" % a.shape[1], "scale = %r" % scale, line("a", a), line("b", b), line("dS", ds),
                      line("S", s32), line("dA", g32[0]), line("dB", g32[1]),
                      line("S_f64", s64), line("dA_f64", g64[0]), line("dB_f64", g64[1])]) + "\n"


def rowcos_case(name, x1, x2, dout, eps):
    def fn(t1, t2):
        c = F.cosine_similarity(t1, t2, dim=1, eps=eps)
        return c, torch.autograd.grad(c, [t1, t2], torch.from_numpy(dout).to(t1.dtype))
    (c32, g32), (c64, g64) = run_both(fn, [x1, x2])
    return "\n".join(["[%s]" % name, "op = cosine_similarity", "N = %d" % x1.shape[0], "D = %d" % x1.shape[1],
                      "eps = %r" % eps, line("x1", x1), line("x2", x2), line("dOut", dout),
                      line("out", c32), line("dx1", g32[0]), line("dx2", g32[1]),
                      line("out_f64", c64), line("dx1_f64", g64[0]), line("dx2_f64", g64[1])]) + "\n"


def mining_case(name, sim, k, positives, ql=None, kl=None, mask=None):
    n, m = sim.shape
    if positives == "diagonal":
        pos = np.zeros((n, m), dtype=bool)
        for i in range(min(n, m)):
            pos[i, i] = True
    elif positives == "labels":
        pos = ql[:, None] == kl[None, :]
    else:
        pos = mask != 0
    masked = torch.from_numpy(sim).masked_fill(torch.from_numpy(pos), float("-inf"))
    idx = torch.topk(masked, k, dim=1, largest=True, sorted=True).indices.numpy()
    out = ["[%s]" % name, "op = hard_negatives", "positives = " + positives, "N = %d" % n, "M = %d" % m,
           "K = %d" % k, line("sim", sim)]
    if ql is not None:
        out += [ints("query_labels", ql), ints("key_labels", kl)]
    if mask is not None:
        out.append(ints("mask", mask))
    return "\n".join(out + [ints("indices", idx)]) + "\n"


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    cases = []
    x = f32(6, 7)
    x[1] = 0.0                      # zero row: norm below eps
    x[2] *= np.float32(1e-13)       # a row whose norm is below eps = 1e-12
    cases.append(normalize_case("normalize_6x7", x, f32(6, 7), 1e-12))
    cases.append(normalize_case("normalize_3x1", f32(3, 1), f32(3, 1), 1e-12))
    cases.append(normalize_case("normalize_4x33_eps0.5", f32(4, 33) * np.float32(0.2), f32(4, 33), 0.5))
    for kind in ("dot", "cosine"):
        cases.append(matrix_case(kind + "_5x3x4", kind, f32(5, 4), f32(3, 4), f32(5, 3), 1.0))
        cases.append(matrix_case(kind + "_17x33x9_scaled", kind, f32(17, 9), f32(33, 9), f32(17, 33), 1 / 0.07))
        cases.append(matrix_case(kind + "_1x1x1", kind, f32(1, 1), f32(1, 1), f32(1, 1), 2.0))
    zero = f32(4, 6)
    zero[2] = 0.0
    cases.append(matrix_case("cosine_4x5x6_zero_row", "cosine", zero, f32(5, 6), f32(4, 5), 1.0))
    x1, x2 = f32(6, 5), f32(6, 5)
    x1[1] = 0.0                      # zero row
    x1[2] *= np.float32(1e-10)       # norm below eps = 1e-8
    x2[3] = x1[3] * np.float32(-2.0)  # opposite directions: -1
    cases.append(rowcos_case("cosine_similarity_6x5", x1, x2, f32(6), 1e-8))
    cases.append(rowcos_case("cosine_similarity_3x130", f32(3, 130), f32(3, 130), f32(3), 1e-8))
    cases.append(rowcos_case("cosine_similarity_2x3_eps0.5", f32(2, 3) * np.float32(0.1), f32(2, 3), f32(2), 0.5))
    cases.append(mining_case("mine_diagonal_6x9_k4", f32(6, 9), 4, "diagonal"))
    cases.append(mining_case("mine_labels_8x10_k3", f32(8, 10), 3, "labels",
                             ql=rng.integers(0, 3, 8), kl=rng.integers(0, 3, 10)))
    cases.append(mining_case("mine_labels_5x7_k5_exact", f32(5, 7), 5, "labels",
                             ql=np.array([0, 1, 0, 1, 2]), kl=np.array([0, 1, 2, 3, 4, 5, 6])))
    mask = (rng.random((7, 12)) < 0.3).astype(np.int64)
    cases.append(mining_case("mine_mask_7x12_k5", f32(7, 12), 5, "mask", mask=mask))
    cases.append(mining_case("mine_diagonal_41x40_k39_row_past_M", f32(41, 40), 39, "diagonal"))
    fields = [
        "op          normalize | dot | cosine | cosine_similarity | hard_negatives",
        "normalize:  x (N,D), upstream dy (N,D), eps; y = F.normalize(x, 2, -1, eps), dx",
        "dot/cosine: a (N,D), b (M,D), upstream dS (N,M), scale; S = scale * a @ b.T, or with",
        "            F.normalize (eps 1e-12) of both for cosine; dA, dB",
        "cosine_similarity: x1, x2 (N,D), upstream dOut (N), eps; out = F.cosine_similarity(dim=1), dx1, dx2",
        "hard_negatives: sim (N,M), positives diagonal | labels | mask, K; indices (N,K) =",
        "            torch.topk of sim with positives set to -inf (no ties in these cases)",
    ]
    write(out_path("similarity.txt"), header("similarity ops", "golden_similarity.py", SEED, fields), cases)


if __name__ == "__main__":
    main()
