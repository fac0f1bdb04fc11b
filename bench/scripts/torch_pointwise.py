#!/usr/bin/python3
"""PyTorch's side of bench/scripts/pointwise_vs_torch.sh: an element-wise loss's forward+backward
at (N, C), best of REPS in a fresh process, gradients of both inputs (of p alone for entropy):
  bce            F.binary_cross_entropy(p, y), p = sigmoid(N(0,1)), y uniform in [0,1], mean
  bce_logits     F.binary_cross_entropy_with_logits(x, y), mean
  sigmoid_focal  torchvision.ops.sigmoid_focal_loss written out (alpha 0.25, gamma 2), mean
  kl_div         F.kl_div(log_softmax(a), softmax(b), reduction='batchmean')
  entropy        -(p * log p).sum(1).mean(), p = softmax(b)
  softmax_focal  -(1 - p_t)^2 log p_t, mean, log p = log_softmax(a), class targets (one gradient)

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/scripts/torch_pointwise.py OP N C REPS

Prints: torch OP N C seconds
"""
import os
import sys
import time

import torch
import torch.nn.functional as F


def sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    # torchvision.ops.sigmoid_focal_loss (torchvision is not in Debian's python3-torch)
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return (alpha_t * loss).mean()


def main():
    op, n, c, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(n, c, generator=g), torch.randn(n, c, generator=g)
    if op == "bce":
        x, y = torch.sigmoid(a), torch.rand(n, c, generator=g)
    elif op in ("bce_logits", "sigmoid_focal"):
        x, y = a, torch.rand(n, c, generator=g)
    elif op in ("kl_div", "entropy"):
        x, y = F.log_softmax(a, dim=1), F.softmax(b, dim=1)
    elif op == "softmax_focal":
        x, y = a, torch.randint(0, c, (n,), generator=g)
    else:
        raise SystemExit("OP: bce, bce_logits, sigmoid_focal, kl_div, entropy or softmax_focal, not " + op)
    x.requires_grad_(op != "entropy")
    y.requires_grad_(op != "softmax_focal")
    best = float("inf")
    for _ in range(reps):
        x.grad = y.grad = None
        start = time.perf_counter()
        if op == "bce":
            loss = F.binary_cross_entropy(x, y)
        elif op == "bce_logits":
            loss = F.binary_cross_entropy_with_logits(x, y)
        elif op == "sigmoid_focal":
            loss = sigmoid_focal(x, y)
        elif op == "softmax_focal":
            logpt = F.log_softmax(x, dim=1).gather(1, y[:, None]).squeeze(1)
            loss = (-((1 - logpt.exp()) ** 2) * logpt).mean()
        elif op == "kl_div":
            loss = F.kl_div(x, y, reduction="batchmean")
        else:
            loss = -(y * torch.log(y)).sum(1).mean()
        loss.backward()
        loss.item()
        best = min(best, time.perf_counter() - start)
    print("torch %s %d %d %.6f" % (op, n, c, best))


if __name__ == "__main__":
    main()
