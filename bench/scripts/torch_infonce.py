#!/usr/bin/python3
"""PyTorch's side of bench/scripts/infonce_vs_torch.sh: InfoNCE forward+backward as the notes
write it (F.normalize, matmul, divide by tau, F.cross_entropy with arange targets, backward),
best of REPS, and the peak resident memory it adds (VmHWM), in a fresh process.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_infonce.py N D REPS

Prints: torch infonce N D seconds peak_added_bytes
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


def blas_in_use():
    """The BLAS library this process loaded (Debian's torch calls whatever libblas.so.3 the
    alternatives system selects: the slow reference BLAS unless OpenBLAS is installed)."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return " ".join(sorted(libs)) or "none"


def main():
    n, d, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    g = torch.Generator().manual_seed(1)
    q = torch.randn(n, d, generator=g).requires_grad_(True)
    k = torch.randn(n, d, generator=g).requires_grad_(True)
    labels = torch.arange(n)
    before = peak_rss()
    best = float("inf")
    for _ in range(reps):
        q.grad = None
        k.grad = None
        start = time.perf_counter()
        logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.07
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        loss.item()
        best = min(best, time.perf_counter() - start)
        del logits, loss
    print("# torch %s, threads %d, BLAS: %s" % (torch.__version__, torch.get_num_threads(), blas_in_use()))
    print("torch infonce %d %d %.6f %d" % (n, d, best, peak_rss() - before))


if __name__ == "__main__":
    main()
