"""Attack our own vectors: how much do keyed noise and the keyed transform protect, and what do they cost?

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/inversion.py`` (about 10 minutes on 2 CPU cores; embeddings
are cached in var/bench/). Attacks, each trained on vectors that carry the same protection as the target:

1. bag-of-words inversion: a one-hidden-layer MLP from vector to the set of words (top 1,000, no stop words),
   token F1 on held-out texts;
2. nearest-neighbour re-identification among 100 candidates (chance 0.01), and for two candidates at distance
   D checked against the exact bound Phi(D / (2 sigma));
3. utility: recall@10 of retrieval over protected documents against clean retrieval (queries stay clean);
4. which-of-20-names: an MLP says which of 20 people a Faker-made sentence names (chance 0.05), also on
   redacted and pseudonymized text (the PII stage as the first line of defence).

Writes the table to stdout, docs/privacy.md (between the bench markers), docs/img/privacy-risk-utility.svg,
gateway/privacy/data/curve.json and the fitted name subspace gateway/privacy/data/name_subspace.npy.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _data, _privacy_report
from gateway.privacy.noise import keyed_gaussian_noise
from gateway.privacy.transform import KeyedRotation, SubspaceRemoval

SIGMAS = [0.0, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1]
SUBSPACE_DIMS = [16, 64]
DEFENCE_SIGMAS = [0.01]
MODEL_VERSION = "all-MiniLM-L6-v2/1.0.0"
TENANT_KEY = b"tenant-key-under-attack".ljust(32, b"\x00")
ATTACKER_KEY = b"attacker-own-tenant-key".ljust(32, b"\x00")
STOP = set(
    """the a an and or of to in is it for on with as by be are this that from at if not can which its was has
    have will when then than but all any each such into may must should used use uses using only also""".split()  # noqa: SIM905
)
START = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - START:6.1f}s] {message}", flush=True)


def digests(texts: Sequence[str]) -> list[bytes]:
    return [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]


def noisy(vectors: np.ndarray, sigma: float, key: bytes, texts: Sequence[str]) -> np.ndarray:
    return keyed_gaussian_noise(vectors, sigma, key, digests(texts), MODEL_VERSION)


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in STOP}


def train_mlp(x: np.ndarray, y: np.ndarray, multilabel: bool, epochs: int, hidden: int) -> torch.nn.Module:
    torch.manual_seed(0)
    outputs = y.shape[1] if multilabel else int(y.max()) + 1
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(hidden, outputs),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-5)
    loss_fn: Callable[..., torch.Tensor] = (
        torch.nn.BCEWithLogitsLoss() if multilabel else torch.nn.CrossEntropyLoss()
    )
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.float32) if multilabel else y.astype(np.int64))
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(xt), generator=generator).split(128):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
    model.eval()
    return model


def predict(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(model(torch.from_numpy(x)).numpy())


def mean_f1(scores: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    predicted = scores > threshold
    tp = (predicted & truth).sum(1)
    precision = tp / np.maximum(predicted.sum(1), 1)
    recall = tp / np.maximum(truth.sum(1), 1)
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return float(f1[truth.sum(1) > 0].mean())


class Bench:
    def __init__(self, quick: bool) -> None:
        self.epochs = 8 if quick else 25
        docs = _data.python_doc_sentences(limit=3000 if quick else 5000)
        self.queries, docs = docs[:500], docs[500:]
        n_test = len(docs) // 5
        self.test, self.val, self.train = docs[:n_test], docs[n_test : n_test + 300], docs[n_test + 300 :]
        self.corpus = self.train + self.val + self.test
        vocab_counts = Counter(w for t in self.train for w in words(t))
        self.vocab = {w: i for i, (w, _) in enumerate(vocab_counts.most_common(1000))}
        targets = _data.person_names(20, seed=1)
        self.named = _data.named_sentences(targets, 60, seed=2)
        self.name_labels = np.array([targets.index(s.name) for s in self.named])
        self.name_train = np.arange(len(self.named)) % 2 == 0
        fit_names = _data.person_names(600, seed=3, exclude=targets)
        self.groups = _data.fit_groups(fit_names, 300, 8, seed=4)
        log(
            f"data: {len(self.train)} train / {len(self.val)} val / {len(self.test)} test sentences, "
            f"{len(self.queries)} queries, {len(self.named)} named, {sum(map(len, self.groups))} fit sentences"
        )
        encoder: list[_data.Encoder] = []

        def lazy() -> _data.Encoder:
            if not encoder:
                encoder.append(_data.load_encoder())
            return encoder[0]

        def emb(label: str, texts: Sequence[str]) -> np.ndarray:
            return _data.cached_embeddings(label, texts, lazy, log)

        self.e_corpus = emb("docs", self.corpus)
        self.e_queries = emb("queries", self.queries)
        self.e_named = emb("named", [s.text for s in self.named])
        self.e_redacted = emb("redacted", [s.redacted for s in self.named])
        self.e_pseudo = emb("pseudonymized", [s.pseudonymized for s in self.named])
        self.e_groups = emb("fit", [t for g in self.groups for t in g])
        n_tr, n_va = len(self.train), len(self.val)
        self.idx_train = np.arange(n_tr)
        self.idx_val = np.arange(n_tr, n_tr + n_va)
        self.idx_test = np.arange(n_tr + n_va, len(self.corpus))
        self.bow = np.zeros((len(self.corpus), len(self.vocab)), dtype=bool)
        for i, t in enumerate(self.corpus):
            for w in words(t):
                if w in self.vocab:
                    self.bow[i, self.vocab[w]] = True

    # --- the four measurements -----------------------------------------------------------------------------
    def bow_f1(self, attacker_view: np.ndarray, target_view: np.ndarray) -> float:
        """Train on the attacker's view of train texts; tune the threshold on val; score the target's test."""
        model = train_mlp(attacker_view[self.idx_train], self.bow[self.idx_train], True, self.epochs, 512)
        val_scores = _sigmoid(predict(model, attacker_view[self.idx_val]))
        best = max((mean_f1(val_scores, self.bow[self.idx_val], t), t) for t in np.arange(0.05, 0.61, 0.05))
        test_scores = _sigmoid(predict(model, target_view[self.idx_test]))
        return mean_f1(test_scores, self.bow[self.idx_test], best[1])

    def reidentify(self, protected: np.ndarray, sigma: float) -> tuple[float, float, float]:
        """Top-1 among 100 candidates; two-candidate accuracy, measured and the bound Phi(D / 2 sigma)."""
        rng = np.random.default_rng(0)
        clean = self.e_corpus[self.idx_test]
        target = protected[self.idx_test]
        sims = target @ clean.T
        n = len(clean)
        hits = 0
        for i in range(n):
            others = rng.choice(np.delete(np.arange(n), i), 99, replace=False)
            hits += int(sims[i, i] > sims[i, others].max())
        j = (np.arange(n) + 1 + rng.integers(0, n - 1, n)) % n
        pair_acc = float(np.mean(sims[np.arange(n), np.arange(n)] > sims[np.arange(n), j]))
        distance = np.linalg.norm(clean - clean[j], axis=1)
        bound = 1.0 if sigma == 0 else float(np.mean([_phi(d / (2 * sigma)) for d in distance]))
        return hits / n, pair_acc, bound

    def recall_at_10(self, stored: np.ndarray, queries: np.ndarray) -> float:
        truth = np.argsort(-(self.e_queries @ self.e_corpus.T), axis=1)[:, :10]
        found = np.argsort(-(queries @ stored.T), axis=1)[:, :10]
        return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found, strict=True)]))

    def name_accuracy(self, attacker_view: np.ndarray, target_view: np.ndarray) -> float:
        tr, te = self.name_train, ~self.name_train
        model = train_mlp(attacker_view[tr], self.name_labels[tr], False, 60, 256)
        return float(np.mean(predict(model, target_view[te]).argmax(1) == self.name_labels[te]))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def fit_subspace(groups: np.ndarray, dims: int) -> np.ndarray:
    """Top principal directions of within-group variation: sentences differing only in the name."""
    residual = groups - groups.mean(axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(residual.reshape(-1, groups.shape[-1]), full_matrices=False)
    return np.asarray(vt[:dims], dtype=np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer texts and epochs (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs and data alone")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    b = Bench(args.quick)
    named_texts = [s.text for s in b.named]
    rows: list[dict[str, Any]] = []
    for sigma in SIGMAS:
        mine = noisy(b.e_corpus, sigma, ATTACKER_KEY, b.corpus)
        theirs = noisy(b.e_corpus, sigma, TENANT_KEY, b.corpus)
        top1, pair, bound = b.reidentify(theirs, sigma)
        row = {
            "sigma": sigma,
            "recall_at_10": b.recall_at_10(theirs, b.e_queries),
            "bow_f1": b.bow_f1(mine, theirs),
            "reid_top1_of_100": top1,
            "reid_pair": pair,
            "reid_pair_bound": bound,
            "name_accuracy": b.name_accuracy(
                noisy(b.e_named, sigma, ATTACKER_KEY, named_texts),
                noisy(b.e_named, sigma, TENANT_KEY, named_texts),
            ),
        }
        rows.append(row)
        log("noise " + _privacy_report.fmt_row(row))
    pii = {
        "redacted": b.name_accuracy(b.e_redacted, b.e_redacted),
        "pseudonymized": b.name_accuracy(b.e_pseudo, b.e_pseudo),
    }
    log(f"PII stage: which-name accuracy, redacted {pii['redacted']:.3f}, pseudonym {pii['pseudonymized']:.3f}")
    groups = b.e_groups.reshape(len(b.groups), -1, b.e_groups.shape[1])
    defences: list[dict[str, Any]] = []
    rotation = KeyedRotation()
    for dims in SUBSPACE_DIMS:
        removal = SubspaceRemoval(fit_subspace(groups, dims).astype(np.float64))
        corpus_p, named_p = removal.apply(b.e_corpus, b""), removal.apply(b.e_named, b"")
        queries_p = removal.apply(b.e_queries, b"")
        for sigma in DEFENCE_SIGMAS:
            mine = noisy(corpus_p, sigma, ATTACKER_KEY, b.corpus)
            theirs = noisy(corpus_p, sigma, TENANT_KEY, b.corpus)
            row = {
                "subspace_dims": dims,
                "sigma": sigma,
                "recall_at_10": b.recall_at_10(theirs, queries_p),
                "bow_f1": b.bow_f1(mine, theirs),
                "name_accuracy": b.name_accuracy(
                    noisy(named_p, sigma, ATTACKER_KEY, named_texts),
                    noisy(named_p, sigma, TENANT_KEY, named_texts),
                ),
            }
            # an attacker without the tenant key trains in the public space and meets rotated vectors
            rotated = rotation.apply(theirs, TENANT_KEY)
            rotated_named = rotation.apply(noisy(named_p, sigma, TENANT_KEY, named_texts), TENANT_KEY)
            row["bow_f1_keyless"] = b.bow_f1(mine, rotated)
            row["name_accuracy_keyless"] = b.name_accuracy(
                noisy(named_p, sigma, ATTACKER_KEY, named_texts), rotated_named
            )
            defences.append(row)
            log("defence " + _privacy_report.fmt_row(row))
    chosen = _privacy_report.choose_default(rows, defences)
    log(f"default: subspace {chosen['subspace_dims']} dims, sigma {chosen['sigma']}")
    report = _privacy_report.render(rows, pii, defences, chosen)
    print(report)
    if not args.no_write:
        basis = fit_subspace(groups, int(chosen["subspace_dims"]))
        _privacy_report.write_all(report, rows, pii, defences, chosen, basis)
        log("wrote docs/privacy.md, docs/img/privacy-risk-utility.svg, gateway/privacy/data/")
    log("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
