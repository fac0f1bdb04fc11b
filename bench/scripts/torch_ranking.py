#!/usr/bin/python3
"""The baselines of bench/scripts/ranking_vs_torch.sh, best of REPS in a fresh process:
  topk N M D K REPS BLOCK_ROWS   PyTorch: per block of BLOCK_ROWS queries, s = q_b @ items.T,
                                 the 20 excluded items per query set to -inf, s.topk(K, dim=1);
                                 the same sizes and blocks as jnce's RankingProbe. Prints
                                 "torch topk N M D K seconds peak_added_bytes".
  auc N REPS                     scikit-learn's roc_auc_score of N float32 scores (Gaussian, labels 1
                                 with probability 0.3, positives shifted by 0.5). Prints
                                 "sklearn auc N seconds auc=A".

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_ranking.py topk 4096 20000 128 10 3 512
"""
import os
import sys
import time

import numpy as np

EXCLUDED_PER_QUERY = 20


def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def topk(n, m, d, k, reps, block):
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    g = torch.Generator().manual_seed(1)
    q, items = torch.randn(n, d, generator=g), torch.randn(m, d, generator=g)
    excluded = torch.randint(0, m, (n, EXCLUDED_PER_QUERY), generator=g)
    before = peak_rss()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        out = torch.empty(n, k, dtype=torch.int64)
        for r0 in range(0, n, block):
            s = q[r0:r0 + block] @ items.T
            s.scatter_(1, excluded[r0:r0 + block], float("-inf"))
            out[r0:r0 + block] = s.topk(k, dim=1).indices
        best = min(best, time.perf_counter() - start)
    print("torch topk %d %d %d %d %.6f %d" % (n, m, d, k, best, peak_rss() - before))


def auc(n, reps):
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(4)
    labels = (rng.uniform(size=n) < 0.3).astype(np.int64)
    scores = (rng.normal(size=n) + 0.5 * labels).astype(np.float32)
    best, a = float("inf"), 0.0
    for _ in range(reps):
        start = time.perf_counter()
        a = roc_auc_score(labels, scores)
        best = min(best, time.perf_counter() - start)
    print("sklearn auc %d %.6f auc=%.6f" % (n, best, a))


def main():
    if sys.argv[1] == "topk":
        topk(*(int(x) for x in sys.argv[2:8]))
    else:
        auc(int(sys.argv[2]), int(sys.argv[3]))


if __name__ == "__main__":
    main()
