#!/usr/bin/python3
"""PyTorch's side of bench/scripts/pair_ops_vs_torch.sh, best of REPS in a fresh process, with
the peak resident memory it adds (VmHWM). FORM is one of
  triplet  F.triplet_margin_loss(anchor, positive, negative) (p = 2, margin 1, mean) + backward,
           anchor, positive, negative (N,D)
  mining   the K = D most similar non-positive keys per query: sim (N,N) with the diagonal
           masked to -inf, topk(K, dim=1) (sorted), indices

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_pair_ops.py FORM N D REPS

Prints: torch FORM N D seconds peak_added_bytes
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

from torch_infonce import peak_rss


def main():
    form, n, d, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    g = torch.Generator().manual_seed(1)
    if form == "mining":
        sim = torch.randn(n, n, generator=g)
        self_pairs = torch.eye(n, dtype=torch.bool)
    else:
        a, p, neg = (torch.randn(n, d, generator=g).requires_grad_(True) for _ in range(3))
    before = peak_rss()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        if form == "mining":
            indices = sim.masked_fill(self_pairs, float("-inf")).topk(d, dim=1).indices
            del indices
        else:
            a.grad = p.grad = neg.grad = None
            loss = F.triplet_margin_loss(a, p, neg)
            loss.backward()
            loss.item()
        best = min(best, time.perf_counter() - start)
    print("torch %s %d %d %.6f %d" % (form, n, d, best, peak_rss() - before))


if __name__ == "__main__":
    main()
