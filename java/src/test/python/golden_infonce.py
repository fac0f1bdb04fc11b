#!/usr/bin/python3
"""Golden data for InfoNCE, computed by PyTorch from the definitions with autograd (Debian's
python3-torch, importable only from the system interpreter):

    /usr/bin/python3 java/src/test/python/golden_infonce.py

Writes java/src/test/resources/golden/infonce.txt, read by dev.jnce.loss.InfoNceTest. Every
form is written out from its definition (prep = F.normalize(x, dim=1, eps=1e-12), or x itself
when normalize is false; S = prep(q) prep(keys)^T / tau):
  two_tower   F.cross_entropy(S, arange(N))
  one_tensor  keys are the queries themselves; the diagonal self-similarity is the positive
  shared      keys = cat(k, queue): shared negatives (M,D) appended to every row's candidates
  explicit    logits[i] = [q_i . p_i, q_i . n_i1 .. q_i . n_iK] / tau, target 0
  labels      target = uniform over the keys with the query's label (soft-target cross-entropy)
  mask        likewise over the keys j with mask[i, j] != 0
Under rows_without_positive = skip a row with no positive is left out of the loss (0 for none)
and of the mean. decoupled: loss_i = -S_ip + logsumexp_{j != p} S_ij. tau is a tensor requiring
grad, so grad_tau is d loss / d tau.
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import header, ints, line, out_path, write

SEED = 20240617


def prep(x, normalize):
    return F.normalize(x, dim=-1, eps=1e-12) if normalize else x


def reduce(rows, valid, reduction):
    if reduction == "none":
        return torch.where(valid, rows, torch.zeros_like(rows))
    total = rows[valid].sum()
    return total / valid.sum() if reduction == "mean" else total


def loss_of(form, spec, q, k, neg, tau):
    """The loss of one form from its definition; k and neg may be None."""
    norm, decoupled = spec["normalize"], spec["decoupled"]
    qh = prep(q, norm)
    n = q.shape[0]
    if form == "explicit":
        ph, nh = prep(k, norm), prep(neg, norm)
        logits = torch.cat([(qh * ph).sum(1, keepdim=True), torch.einsum("nd,nkd->nk", qh, nh)], 1) / tau
        positive = torch.zeros(n, dtype=torch.long)
    else:
        keys = qh if form == "one_tensor" else prep(torch.cat([k, neg]) if form == "shared" else k, norm)
        logits = qh @ keys.T / tau
        positive = torch.arange(n)
    valid = torch.ones(n, dtype=torch.bool)
    if form in ("labels", "mask"):
        if form == "labels":
            pos = torch.from_numpy(spec["query_labels"])[:, None] == torch.from_numpy(spec["key_labels"])[None, :]
        else:
            pos = torch.from_numpy(spec["mask"]) != 0
        count = pos.sum(1)
        valid = count > 0
        target = pos.to(logits.dtype) / count.clamp(min=1)[:, None].to(logits.dtype)
        rows = -(target * F.log_softmax(logits, 1)).sum(1)
    elif decoupled:
        s_pos = logits.gather(1, positive[:, None])[:, 0]
        others = logits.masked_fill(F.one_hot(positive, logits.shape[1]).bool(), float("-inf"))
        rows = -s_pos + torch.logsumexp(others, 1)
    else:
        rows = F.cross_entropy(logits, positive, reduction="none")
    return reduce(rows, valid, spec["reduction"])


def run(form, spec, inputs32, tau32):
    """[(loss, grads of the float inputs, grad tau)] in float32 and float64."""
    results = []
    for dtype in (torch.float32, torch.float64):
        ts = [None if x is None else torch.from_numpy(x).to(dtype).requires_grad_(True) for x in inputs32]
        tau = torch.tensor(float(tau32), dtype=dtype, requires_grad=True)
        loss = loss_of(form, spec, ts[0], ts[1], ts[2], tau)
        wrt = [t for t in ts if t is not None] + [tau]
        grads = torch.autograd.grad(loss.sum(), wrt)
        out = [g.detach().numpy() for g in grads]
        results.append((loss.detach().numpy(), out[:-1], float(out[-1])))
    return results


def case(name, form, q, k=None, neg=None, tau=0.1, normalize=True, decoupled=False, reduction="mean",
         skip=False, query_labels=None, key_labels=None, mask=None):
    tau32 = np.float32(tau)
    spec = dict(normalize=normalize, decoupled=decoupled, reduction=reduction, query_labels=query_labels,
                key_labels=key_labels, mask=mask)
    (l32, g32, t32), (l64, g64, t64) = run(form, spec, [q, k, neg], tau32)
    for arr in [l32, l64, t32, t64] + g32 + g64:
        assert np.all(np.isfinite(arr)), name + ": non-finite result"
    names = ["queries"] + (["keys"] if k is not None else []) + (["negatives"] if neg is not None else [])
    out = ["[%s]" % name, "form = " + form, line("temperature", [tau32]),
           "normalize = %s" % str(normalize).lower(), "decoupled = %s" % str(decoupled).lower(),
           "reduction = " + reduction, "rows_without_positive = " + ("skip" if skip else "throw"),
           "N = %d" % q.shape[0], "D = %d" % q.shape[1]]
    if k is not None and form in ("labels", "mask"):
        out.append("M = %d" % k.shape[0])
    if neg is not None:
        out.append(("K = %d" % neg.shape[1]) if form == "explicit" else ("M = %d" % neg.shape[0]))
    for nm, x in zip(names, [q, k, neg]):
        out.append(line(nm, x))
    if query_labels is not None:
        out += [ints("query_labels", query_labels), ints("key_labels", key_labels)]
    if mask is not None:
        out.append(ints("mask", mask))
    for suffix, l, g, t in (("", l32, g32, t32), ("_f64", l64, g64, t64)):
        out.append(line("loss" + suffix, l))
        out += [line("grad_" + nm + suffix, x) for nm, x in zip(names, g)]
        out.append(line("grad_tau" + suffix, [t]))
    return "\n".join(out) + "\n"


def main():
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    reds = ("none", "mean", "sum")
    cases = []

    q, k = f32(6, 5), f32(6, 5)
    k[2] = q[2] * np.float32(3.0)   # a key parallel to its query: cosine exactly 1
    for red in reds:
        cases.append(case("two_tower_%s" % red, "two_tower", q, k, tau=0.07, reduction=red))
    half_q, half_k = q * np.float32(0.5), k * np.float32(0.5)
    cases.append(case("two_tower_dot_mean", "two_tower", half_q, half_k, tau=0.5, normalize=False))
    cases.append(case("two_tower_dot_none", "two_tower", half_q, half_k, tau=2.0, normalize=False, reduction="none"))
    cases.append(case("two_tower_tau0.01_sum", "two_tower", q, k, tau=0.01, reduction="sum"))
    cases.append(case("two_tower_tau10_mean", "two_tower", q, k, tau=10.0))
    cases.append(case("two_tower_decoupled_mean", "two_tower", q, k, tau=0.2, decoupled=True))
    cases.append(case("two_tower_decoupled_none", "two_tower", q, k, tau=0.2, decoupled=True, reduction="none"))
    cases.append(case("two_tower_decoupled_dot_sum", "two_tower", half_q, half_k, tau=0.7, normalize=False,
                      decoupled=True, reduction="sum"))

    f = f32(7, 4)
    for red in reds:
        cases.append(case("one_tensor_%s" % red, "one_tensor", f, tau=0.1, reduction=red))
    cases.append(case("one_tensor_dot_mean", "one_tensor", f * np.float32(0.5), tau=1.0, normalize=False))
    cases.append(case("one_tensor_decoupled_mean", "one_tensor", f, tau=0.3, decoupled=True))

    sq, sk, queue = f32(5, 8), f32(5, 8), f32(6, 8)
    for red in reds:
        cases.append(case("shared_%s" % red, "shared", sq, sk, queue, tau=0.2, reduction=red))
    cases.append(case("shared_dot_mean", "shared", sq * np.float32(0.4), sk * np.float32(0.4), queue * np.float32(0.4),
                      tau=0.5, normalize=False))
    cases.append(case("shared_decoupled_mean", "shared", sq, sk, queue, tau=0.2, decoupled=True))

    eq, ep, en = f32(6, 5), f32(6, 5), f32(6, 3, 5)
    for red in reds:
        cases.append(case("explicit_%s" % red, "explicit", eq, ep, en, tau=0.1, reduction=red))
    cases.append(case("explicit_dot_mean", "explicit", eq * np.float32(0.5), ep * np.float32(0.5), en * np.float32(0.5),
                      tau=0.5, normalize=False))
    cases.append(case("explicit_decoupled_mean", "explicit", eq, ep, en, tau=0.1, decoupled=True))
    cases.append(case("explicit_decoupled_sum", "explicit", eq, ep, en, tau=0.25, decoupled=True, reduction="sum"))
    cases.append(case("explicit_K1_D16_mean", "explicit", f32(5, 16), f32(5, 16), f32(5, 1, 16), tau=0.1))

    lq, lk = f32(8, 6), f32(8, 6)
    ql = np.array([0, 1, 2, 0, 1, 3, 3, 0], dtype=np.int64)
    kl = np.array([0, 1, 2, 0, 1, 3, 3, 0], dtype=np.int64)
    for red in reds:
        cases.append(case("labels_%s" % red, "labels", lq, lk, tau=0.1, reduction=red, query_labels=ql, key_labels=kl))
    cases.append(case("labels_dot_mean", "labels", lq * np.float32(0.5), lk * np.float32(0.5), tau=1.0,
                      normalize=False, query_labels=ql, key_labels=kl))
    wq, wk = f32(6, 3), f32(9, 3)    # M != N, query 4's label 7 matches no key
    wql = np.array([1, 2, 1, 0, 7, 2], dtype=np.int64)
    wkl = np.array([0, 1, 2, 2, 1, 0, 5, 1, 2], dtype=np.int64)
    for red in reds:
        cases.append(case("labels_skip_%s" % red, "labels", wq, wk, tau=0.2, reduction=red, skip=True,
                          query_labels=wql, key_labels=wkl))

    mq, mk = f32(5, 4), f32(7, 4)
    mask = (rng.random((5, 7)) < 0.35).astype(np.int64)
    mask[:, 0] |= (mask.sum(1) == 0)   # every row has a positive
    cases.append(case("mask_mean", "mask", mq, mk, tau=0.15, mask=mask))
    cases.append(case("mask_none", "mask", mq, mk, tau=0.15, reduction="none", mask=mask))
    skip_mask = mask.copy()
    skip_mask[3] = 0
    cases.append(case("mask_skip_mean", "mask", mq, mk, tau=0.15, skip=True, mask=skip_mask))
    cases.append(case("mask_skip_sum", "mask", mq, mk, tau=0.15, reduction="sum", skip=True, mask=skip_mask))

    zq, zk = f32(5, 4), f32(5, 4)
    zk[1] = 0.0                      # a zero key: F.normalize leaves it 0, its gradient is 1/eps times the upstream
    cases.append(case("two_tower_zero_key_mean", "two_tower", zq, zk, tau=0.1))
    cases.append(case("shared_single_query_sum", "shared", f32(1, 6), f32(1, 6), f32(4, 6), tau=0.1, reduction="sum"))

    cases.append(case("two_tower_64x32_mean", "two_tower", f32(64, 32), f32(64, 32), tau=0.07))

    fields = [
        "form                   two_tower | one_tensor | shared | explicit | labels | mask (see the generator)",
        "temperature            tau (a float32 value); normalize: F.normalize(eps=1e-12) or plain dot",
        "decoupled              positive removed from the denominator; reduction: none | mean | sum",
        "rows_without_positive  throw | skip (labels, mask)",
        "N, D, M, K             rows, width, keys (labels, mask) or shared negatives, negatives per query",
        "queries, keys, negatives  float32 inputs: (N,D); (N,D) or (M,D) keys/positives; (M,D) or (N,K,D)",
        "query_labels, key_labels, mask  int64 labels (N), (M); 0/1 mask (N,M)",
        "loss; grad_<input> of loss (of loss.sum() for none); grad_tau = d loss / d tau",
    ]
    write(out_path("infonce.txt"), header("InfoNCE (every form, from its definition)", "golden_infonce.py", SEED,
                                          fields), cases)


if __name__ == "__main__":
    main()
