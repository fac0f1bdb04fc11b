#!/usr/bin/python3
"""PyTorch's side of bench/scripts/infonce_vs_torch.sh: InfoNCE forward+backward written the usual
way (F.normalize, matmul, divide by tau, F.cross_entropy, backward), best of REPS, and the
peak resident memory it adds (VmHWM), in a fresh process. FORM is one of
  infonce  two towers: queries (N,D), keys (N,D), targets arange(N) (a two-tower recommender)
  onetensor  one tensor (N,D): logits f fᵀ / tau, targets arange(N)
  ntxent   SimCLR: views (N,D) = two views of N/2 samples, self-similarity masked with -inf,
           targets (i + N/2) mod N
  supcon   supervised contrastive (L_out) on one tensor, labels i mod (N/8): log_softmax over
           the other rows, minus the mean log-probability of the rows with the same label
  labels   two towers with labels i mod (N/8) on queries and keys: log_softmax over all keys,
           minus the mean log-probability of the keys with the query's label
  clip     CLIP's symmetric loss: logits = normalize(a) normalize(b)ᵀ / 0.07, the mean of
           cross_entropy(logits, arange) and cross_entropy(logits.T, arange)
  negatives  explicit negatives: queries and positives (N,D), K = 64 negatives per query (N,K,D);
           logits [q·p, q·n_1..K] / tau by a batched matmul, cross_entropy with target 0
  siglip   SigLIP's pairwise sigmoid loss: logits = normalize(a) normalize(b)ᵀ t + b (t = 10,
           b = -10, both learnt: their gradients too), labels 2 eye - 1,
           -sum(logsigmoid(labels * logits)) / N

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_infonce.py N D REPS [FORM]

Prints: torch FORM N D seconds peak_added_bytes
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
    form = sys.argv[4] if len(sys.argv) > 4 else "infonce"
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    g = torch.Generator().manual_seed(1)
    q = torch.randn(n, d, generator=g).requires_grad_(True)
    k = torch.randn(n, d, generator=g).requires_grad_(True)
    two_towers = form in ("infonce", "labels", "clip", "siglip", "negatives")
    labels = torch.arange(n) if form != "ntxent" else (torch.arange(n) + n // 2) % n
    self_pairs = torch.eye(n, dtype=torch.bool)
    classes = torch.arange(n) % (n // 8)
    same = classes[:, None] == classes[None, :]
    if form == "supcon":
        same &= ~self_pairs
    negs = torch.randn(n, 64, d, generator=g).requires_grad_(True) if form == "negatives" else None
    t = torch.tensor(10.0, requires_grad=True)
    b = torch.tensor(-10.0, requires_grad=True)
    signs = 2 * torch.eye(n) - 1
    before = peak_rss()
    best = float("inf")
    for _ in range(reps):
        q.grad = k.grad = t.grad = b.grad = None
        if negs is not None:
            negs.grad = None
        start = time.perf_counter()
        if form == "negatives":
            qn = F.normalize(q, dim=1)
            pos = (qn * F.normalize(k, dim=1)).sum(1, keepdim=True)
            neg = torch.bmm(F.normalize(negs, dim=2), qn.unsqueeze(2)).squeeze(2)
            logits = torch.cat([pos, neg], dim=1) / 0.07
            labels = torch.zeros(n, dtype=torch.long)
        elif form == "siglip":
            logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T * t + b
        elif two_towers:
            logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.07
        else:
            f = F.normalize(q, dim=1)
            logits = f @ f.T / 0.07
            if form in ("ntxent", "supcon"):
                logits = logits.masked_fill(self_pairs, float("-inf"))
        if form == "siglip":
            loss = -F.logsigmoid(signs * logits).sum() / n
        elif form == "clip":
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        elif form in ("supcon", "labels"):
            log_prob = F.log_softmax(logits, dim=1)
            loss = -(log_prob.masked_fill(~same, 0).sum(1) / same.sum(1)).mean()
        else:
            loss = F.cross_entropy(logits, labels)
        loss.backward()
        loss.item()
        best = min(best, time.perf_counter() - start)
        del logits, loss
    print("# torch %s, threads %d, BLAS: %s" % (torch.__version__, torch.get_num_threads(), blas_in_use()))
    print("torch %s %d %d %.6f %d" % (form, n, d, best, peak_rss() - before))


if __name__ == "__main__":
    main()
