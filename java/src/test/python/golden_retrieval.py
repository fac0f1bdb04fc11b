#!/usr/bin/python3
"""Golden data for the retrieval training losses: InfoNCE's logQ correction, accidental hits,
margin, label smoothing and directions, sampled softmax and BPR, computed by PyTorch from the
definitions with autograd (Debian's python3-torch, from the system interpreter):

    /usr/bin/python3 java/src/test/python/golden_retrieval.py

Writes java/src/test/resources/golden/retrieval.txt, read by dev.jnce.loss.RetrievalTest. The
peers (TensorFlow Recommenders, sentence-transformers) are not installable here; their semantics
are written out below (prep = F.normalize(x, dim=1, eps=1e-12), or x itself without normalize;
sim = prep(q) prep(c)^T):

  TFRS tfrs.tasks.Retrieval(temperature, remove_accidental_hits) with candidate_sampling_probability p
      scores = sim / tau
      scores = scores - log(clip(p, 1e-6, 1))                  (SamplingProbablityCorrection, per column)
      scores[i, j] += MIN_FLOAT where id[j] == id[i], j != i   (RemoveAccidentalHits; jnce: -inf)
      loss = CategoricalCrossentropy(from_logits, reduction=SUM)(eye(N), scores)   (reduction "sum")
  margin m (AM-softmax):   the positive's logit is (sim_ii - m) / tau
  label smoothing eps:     (1 - eps) * nll + eps * mean over the row's candidates of -log p_ij;
                           excluded candidates (accidental hits, GTE self-pairs) are not counted
                           (F.cross_entropy(label_smoothing) itself, where nothing is excluded)
  directions               q2k: rows q against keys; k2q: rows k against queries (the same ids);
                           symmetric: (q2k_i + k2q_i) / 2, logQ on the q2k half only;
                           gte: sentence-transformers MultipleNegativesBidirectionalRankingLoss,
                           Z_i over [q_i.K, q_i.Q (j != i), K_i . Q (column i of sim_qd), k_i.K (j != i)]
  shared                   candidates = cat(keys, negatives); logQ and ids cover both (keys first)
  sampled_softmax          candidates of row i: its positive and the M sampled negatives (no in-batch
                           negatives); logits q.c - logQ(c) (TF sampled_softmax_loss, subtract_log_q)
  bpr                      mean over k of -log sigmoid(q_i.p_i - q_i.n_ik), plain dot products
tau is a tensor requiring grad, so grad_tau is d loss / d tau.
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import header, ints, line, out_path, write

SEED = 20261201
NEG_INF = float("-inf")


def prep(x, normalize):
    return F.normalize(x, dim=-1, eps=1e-12) if normalize else x


def smoothed_rows(z, target, eps):
    """Per-row (1-eps) nll + eps mean_{candidates} -log p; candidates are the finite logits."""
    logp = F.log_softmax(z, 1)
    cand = torch.isfinite(z)
    nll = -logp.gather(1, target[:, None])[:, 0]
    if eps == 0:
        return nll
    smooth = -torch.where(cand, logp, torch.zeros_like(logp)).sum(1) / cand.sum(1)
    return (1 - eps) * nll + eps * smooth


def reduce(rows, reduction):
    return rows if reduction == "none" else rows.mean() if reduction == "mean" else rows.sum()


def one_direction(qh, ch, tau, spec, logq, ids):
    """Rows qh against candidates ch, positive i in column i."""
    n = qh.shape[0]
    sim = qh @ ch.T
    target = torch.arange(n)
    onehot = F.one_hot(target, ch.shape[0]).bool()
    sim = sim - onehot * spec["margin"]
    z = sim / tau
    if logq is not None:
        z = z - logq[None, :]
    if ids is not None:
        ids_t = torch.from_numpy(ids)
        hit = (ids_t[None, :] == ids_t[target][:, None]) & ~onehot
        z = z.masked_fill(hit, NEG_INF)
    if spec.get("in_batch_columns", 0) > 0:
        cols = torch.arange(ch.shape[0])[None, :] < spec["in_batch_columns"]
        z = z.masked_fill(cols & ~onehot, NEG_INF)
    return smoothed_rows(z, target, spec["smoothing"])


def gte_rows(qh, kh, tau, spec):
    n = qh.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    qd = qh @ kh.T - eye * spec["margin"]          # the margin on the positive, in its row block only
    qd_cols = (qh @ kh.T).T
    z = torch.cat([qd, qh @ qh.T, qd_cols, kh @ kh.T], 1) / tau
    none = torch.zeros_like(eye)
    z = z.masked_fill(torch.cat([none, eye, none, eye], 1), NEG_INF)   # after 1/tau: -inf/tau has no gradient
    return smoothed_rows(z, torch.arange(n), spec["smoothing"])


def loss_of(spec, q, k, neg, tau):
    form, norm = spec["form"], spec["normalize"]
    logq = None if spec.get("logq") is None else torch.from_numpy(spec["logq"]).to(q.dtype)
    if logq is not None and spec.get("probability"):
        logq = torch.log(torch.clamp(logq, 1e-6, 1.0))
    qh, kh = prep(q, norm), prep(k, norm)
    if form == "bpr":
        pos = (q * k).sum(1, keepdim=True)
        negs = torch.einsum("nd,nkd->nk", q, neg)
        return reduce(-F.logsigmoid(pos - negs).mean(1), spec["reduction"])
    if form in ("shared", "sampled_softmax"):
        rows = one_direction(qh, torch.cat([kh, prep(neg, norm)]), tau, spec, logq, spec.get("ids"))
    elif spec["direction"] == "q2k":
        rows = one_direction(qh, kh, tau, spec, logq, spec.get("ids"))
    elif spec["direction"] == "k2q":
        rows = one_direction(kh, qh, tau, spec, None, spec.get("ids"))
    elif spec["direction"] == "symmetric":
        rows = (one_direction(qh, kh, tau, spec, logq, spec.get("ids"))
                + one_direction(kh, qh, tau, spec, None, spec.get("ids"))) / 2
    else:
        rows = gte_rows(qh, kh, tau, spec)
    return reduce(rows, spec["reduction"])


def run(spec, inputs32, tau32):
    results = []
    for dtype in (torch.float32, torch.float64):
        ts = [None if x is None else torch.from_numpy(x).to(dtype).requires_grad_(True) for x in inputs32]
        tau = torch.tensor(float(tau32), dtype=dtype, requires_grad=True)
        loss = loss_of(spec, ts[0], ts[1], ts[2], tau)
        wrt = [t for t in ts if t is not None] + [tau]
        grads = torch.autograd.grad(loss.sum(), wrt, allow_unused=True)
        out = [np.zeros(1) if g is None else g.detach().numpy() for g in grads]
        results.append((loss.detach().numpy(), out[:-1], float(out[-1].reshape(-1)[0])))
    return results


def case(name, form, q, k, neg=None, tau=0.1, normalize=True, reduction="mean", direction="q2k", margin=0.0,
         smoothing=0.0, logq=None, probability=False, ids=None, in_batch_columns=0):
    tau32 = np.float32(tau)
    spec = dict(form=form, normalize=normalize, reduction=reduction, direction=direction, margin=margin,
                smoothing=smoothing, logq=logq, probability=probability, ids=ids, in_batch_columns=in_batch_columns)
    (l32, g32, t32), (l64, g64, t64) = run(spec, [q, k, neg], tau32)
    for arr in [l32, l64] + g32 + g64:
        assert np.all(np.isfinite(arr)), name + ": non-finite result"
    names = ["queries", "keys"] + (["negatives"] if neg is not None else [])
    out = ["[%s]" % name, "form = " + form, "direction = " + direction, line("temperature", [tau32]),
           "normalize = %s" % str(normalize).lower(), "reduction = " + reduction, line("margin", [np.float32(margin)]),
           line("smoothing", [np.float32(smoothing)]), "N = %d" % q.shape[0], "D = %d" % q.shape[1]]
    if neg is not None:
        out.append(("K = %d" % neg.shape[1]) if form == "bpr" else ("M = %d" % neg.shape[0]))
    for nm, x in zip(names, [q, k, neg]):
        out.append(line(nm, x))
    if logq is not None:
        out.append(line("probabilities" if probability else "logq", logq))
    if ids is not None:
        out.append(ints("ids", ids))
    for suffix, l, g, t in (("", l32, g32, t32), ("_f64", l64, g64, t64)):
        out.append(line("loss" + suffix, l))
        out += [line("grad_" + nm + suffix, x) for nm, x in zip(names, g)]
        if form != "bpr":
            out.append(line("grad_tau" + suffix, [t]))
    return "\n".join(out) + "\n"


def self_check(rng):
    """Where nothing is excluded, the smoothing is F.cross_entropy's own."""
    z = torch.from_numpy(rng.standard_normal((4, 6)))
    t = torch.tensor([0, 3, 5, 1])
    assert torch.allclose(smoothed_rows(z, t, 0.2), F.cross_entropy(z, t, label_smoothing=0.2, reduction="none"))


def main():
    rng = np.random.default_rng(SEED)
    self_check(rng)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    q, k = f32(6, 5), f32(6, 5)
    probs = np.array([0.5, 0.02, 0.0, 0.3, 1e-7, 0.9], dtype=np.float32)   # 0 and 1e-7 clip to 1e-6
    logq = np.log(rng.uniform(0.01, 0.5, 6)).astype(np.float32)
    ids = np.array([10, 11, 10, 12, 13, 11], dtype=np.int64)               # rows 0/2 and 1/5 share an item
    cases = [
        case("tfrs_probabilities_sum", "two_tower", q * np.float32(0.5), k * np.float32(0.5), tau=0.5,
             normalize=False, reduction="sum", logq=probs, probability=True),
        case("tfrs_probabilities_hits_sum", "two_tower", q * np.float32(0.5), k * np.float32(0.5), tau=0.5,
             normalize=False, reduction="sum", logq=probs, probability=True, ids=ids),
        case("logq_mean", "two_tower", q, k, tau=0.1, logq=logq),
        case("hits_none", "two_tower", q, k, tau=0.1, reduction="none", ids=ids),
        case("margin_mean", "two_tower", q, k, tau=0.05, margin=0.2),
        case("smoothing_mean", "two_tower", q, k, tau=0.1, smoothing=0.1),
        case("smoothing_hits_margin_sum", "two_tower", q, k, tau=0.1, reduction="sum", smoothing=0.2, margin=0.1,
             ids=ids, logq=logq),
        case("k2q_mean", "two_tower", q, k, tau=0.1, direction="k2q"),
        case("k2q_hits_margin_none", "two_tower", q, k, tau=0.1, direction="k2q", reduction="none", ids=ids,
             margin=0.15),
        case("symmetric_mean", "two_tower", q, k, tau=0.1, direction="symmetric"),
        case("symmetric_all_none", "two_tower", q, k, tau=0.1, direction="symmetric", reduction="none",
             margin=0.1, smoothing=0.1, logq=logq, ids=ids),
        case("gte_mean", "two_tower", q, k, tau=0.05, direction="gte"),
        case("gte_dot_sum", "two_tower", q * np.float32(0.5), k * np.float32(0.5), tau=1.0, normalize=False,
             direction="gte", reduction="sum"),
        case("gte_margin_smoothing_none", "two_tower", q, k, tau=0.1, direction="gte", reduction="none",
             margin=0.2, smoothing=0.1),
    ]
    sq, sk, bank = f32(5, 4), f32(5, 4), f32(7, 4)
    shared_logq = np.log(rng.uniform(0.01, 0.5, 12)).astype(np.float32)
    shared_ids = np.array([1, 2, 3, 4, 5, 2, 9, 9, 1, 7, 8, 6], dtype=np.int64)
    cases.append(case("shared_logq_hits_mean", "shared", sq, sk, bank, tau=0.2, logq=shared_logq, ids=shared_ids))
    cases.append(case("shared_margin_smoothing_sum", "shared", sq, sk, bank, tau=0.2, reduction="sum", margin=0.1,
                      smoothing=0.1))
    cases.append(case("sampled_softmax_uniform_mean", "sampled_softmax", sq, sk, bank, tau=1.0, normalize=False,
                      in_batch_columns=5))
    cases.append(case("sampled_softmax_logq_sum", "sampled_softmax", sq, sk, bank, tau=1.0, normalize=False,
                      reduction="sum", in_batch_columns=5, logq=shared_logq))
    cases.append(case("bpr_mean", "bpr", f32(6, 4), f32(6, 4), f32(6, 3, 4), tau=1.0, normalize=False))
    cases.append(case("bpr_none", "bpr", f32(5, 3), f32(5, 3), f32(5, 1, 3), tau=1.0, normalize=False,
                      reduction="none"))
    fields = [
        "form          two_tower | shared | sampled_softmax | bpr; direction q2k | k2q | symmetric | gte",
        "temperature   tau (float32); normalize: F.normalize(eps=1e-12) or plain dot; reduction none | mean | sum",
        "margin        subtracted from the positive's similarity before 1/tau; smoothing: eps over the candidates",
        "N, D, M, K    rows, width, shared or sampled negatives (M,D), BPR negatives per row (N,K,D)",
        "queries, keys, negatives  float32 inputs (keys: the positives of sampled softmax and BPR)",
        "logq | probabilities  per candidate column (keys first); ids: int64 candidate ids (accidental hits)",
        "loss; grad_<input> of loss (of loss.sum() for none); grad_tau = d loss / d tau",
    ]
    write(out_path("retrieval.txt"), header("retrieval training losses (from their definitions)",
                                            "golden_retrieval.py", SEED, fields), cases)


if __name__ == "__main__":
    main()
