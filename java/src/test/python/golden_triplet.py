#!/usr/bin/python3
"""Golden data for the triplet margin loss, computed by PyTorch (Debian's python3-torch,
importable only from the system interpreter):

    /usr/bin/python3 java/src/test/python/golden_triplet.py

Writes java/src/test/resources/golden/triplet.txt, read by dev.jnce.loss.TripletMarginLossTest:
F.triplet_margin_loss for the pairwise distance and F.triplet_margin_with_distance_loss with
distance 1 - F.cosine_similarity for the cosine one.
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import header, line, out_path, run_both, write

SEED = 20240613


def case(name, a, p, n, distance, margin, pnorm, eps, swap, reduction):
    def fn(ta, tp, tn):
        if distance == "cosine":
            loss = F.triplet_margin_with_distance_loss(
                ta, tp, tn, distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y, dim=1, eps=eps),
                margin=margin, swap=swap, reduction=reduction)
        else:
            loss = F.triplet_margin_loss(ta, tp, tn, margin=margin, p=pnorm, eps=eps, swap=swap, reduction=reduction)
        total = loss.sum() if reduction == "none" else loss
        return loss, torch.autograd.grad(total, [ta, tp, tn])
    (l32, g32), (l64, g64) = run_both(fn, [a, p, n])
    return "\n".join(["[%s]" % name, "distance = " + distance, "margin = %r" % margin, "p = %r" % pnorm,
                      "eps = %r" % eps, "swap = %s" % str(swap).lower(), "reduction = " + reduction,
                      "N = %d" % a.shape[0], "D = %d" % a.shape[1],
                      line("anchor", a), line("positive", p), line("negative", n),
                      line("loss", l32), line("grad_anchor", g32[0]), line("grad_positive", g32[1]),
                      line("grad_negative", g32[2]), line("loss_f64", l64), line("grad_anchor_f64", g64[0]),
                      line("grad_positive_f64", g64[1]), line("grad_negative_f64", g64[2])]) + "\n"


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    cases = []
    a, p, n = f32(8, 5), f32(8, 5), f32(8, 5)
    n[0] = a[0] + np.float32(5.0)   # a far negative: hinge inactive, loss 0
    p[1] = a[1]                     # positive equal to the anchor: distance ~ eps
    for red in ("none", "mean", "sum"):
        for swap in (False, True):
            tag = "_swap" if swap else ""
            cases.append(case("pairwise_p2%s_%s" % (tag, red), a, p, n, "pairwise", 1.0, 2.0, 1e-6, swap, red))
            cases.append(case("cosine%s_%s" % (tag, red), a, p, n, "cosine", 0.5, 2.0, 1e-8, swap, red))
    for pnorm in (1.0, 3.0, 1.5):
        cases.append(case("pairwise_p%g_mean" % pnorm, a, p, n, "pairwise", 1.0, pnorm, 1e-6, False, "mean"))
    cases.append(case("pairwise_margin0.2_eps0.01_mean", a, p, n, "pairwise", 0.2, 2.0, 0.01, False, "mean"))
    big_a, big_p, big_n = f32(12, 40), f32(12, 40), f32(12, 40)
    cases.append(case("pairwise_swap_12x40_mean", big_a, big_p, big_n, "pairwise", 1.0, 2.0, 1e-6, True, "mean"))
    cases.append(case("cosine_swap_12x40_sum", big_a, big_p, big_n, "cosine", 1.0, 2.0, 1e-8, True, "sum"))
    cases.append(case("single_1x1", f32(1, 1), f32(1, 1), f32(1, 1), "pairwise", 1.0, 2.0, 1e-6, False, "mean"))
    fields = [
        "distance   pairwise (F.triplet_margin_loss) | cosine (1 - F.cosine_similarity(dim=1, eps))",
        "margin, p, eps, swap, reduction   the arguments (p unused by cosine)",
        "anchor, positive, negative        (N,D) float32 inputs",
        "loss; grad_anchor, grad_positive, grad_negative: of loss (of loss.sum() for none)",
    ]
    write(out_path("triplet.txt"), header("the triplet margin loss", "golden_triplet.py", SEED, fields), cases)


if __name__ == "__main__":
    main()
