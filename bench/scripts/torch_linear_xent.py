#!/usr/bin/python3
"""PyTorch's side of bench/scripts/linear_xent_vs_torch.sh: a classifier / LM head written the usual
way, F.cross_entropy(F.linear(h, W, b), y) and backward (gradients of h, W and b), best of REPS,
and the peak resident memory it adds (VmHWM), in a fresh process. Inputs as LinearXentProbe's:
h ~ N(0,1) (N,D), W ~ 0.03 N(0,1) (V,D), b ~ N(0,1) (V), y = (i * 7919) mod V.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_linear_xent.py N D V REPS

Prints: torch linear N D V seconds peak_added_bytes (or 'torch linear N D V skipped reason')
"""
import os
import sys
import time

import torch
import torch.nn.functional as F


def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def main():
    n, d, v, reps = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    if 3 * n * v * 4 > avail:  # logits, their softmax and gradient
        print("torch linear %d %d %d skipped needs %.1f GiB for the (N, V) buffers, %.1f GiB free"
              % (n, d, v, 3 * n * v * 4 / 2**30, avail / 2**30))
        return
    g = torch.Generator().manual_seed(1)
    h = torch.randn(n, d, generator=g).requires_grad_(True)
    w = (0.03 * torch.randn(v, d, generator=g)).requires_grad_(True)
    b = torch.randn(v, generator=g).requires_grad_(True)
    y = (torch.arange(n) * 7919) % v
    before = peak_rss()
    best = float("inf")
    for _ in range(reps):
        h.grad = w.grad = b.grad = None
        start = time.perf_counter()
        F.cross_entropy(F.linear(h, w, b), y).backward()
        best = min(best, time.perf_counter() - start)
    print("torch linear %d %d %d %.6f %d" % (n, d, v, best, peak_rss() - before))


if __name__ == "__main__":
    main()
