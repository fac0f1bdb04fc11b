"""PyTorch's side of bench/scripts/sdpa_vs_torch.sh: attention forward+backward on the CPU,
float32, written out as PyTorch 1.13 (Debian's python3-torch) must, since it has no
F.scaled_dot_product_attention: softmax(q @ k.transpose(-2, -1) * d**-0.5 [+ causal mask]) @ v,
then backward of sum(out * up) by autograd. Best of REPS steps; peak resident memory added.

    torch_attention.py B H L D REPS CAUSAL(0|1)
prints "torch sdpa B H L D seconds peak_added_bytes" (and a '#' line naming torch and its BLAS).
"""
import math
import os
import sys
import time

import torch


def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def main():
    b, h, l, d, reps = (int(x) for x in sys.argv[1:6])
    causal = len(sys.argv) > 6 and sys.argv[6] == "1"
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    g = torch.Generator().manual_seed(7)
    q, k, v, up = (torch.randn(b, h, l, d, generator=g) for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_(True)
    mask = torch.ones(l, l, dtype=torch.bool).tril() if causal else None
    best, before = float("inf"), peak_rss()
    for _ in range(reps):
        for t in (q, k, v):
            t.grad = None
        start = time.perf_counter()
        s = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(d))
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        out = torch.softmax(s, dim=-1) @ v
        out.backward(up)
        best = min(best, time.perf_counter() - start)
        del s, out
    print("# torch %s, threads %d" % (torch.__version__, torch.get_num_threads()))
    print("torch sdpa %d %d %d %d %.6f %d" % (b, h, l, d, best, peak_rss() - before))


if __name__ == "__main__":
    main()
