"""The study's baseline algorithm, re-implemented for the speed benchmark (not used by the CLI).

It keeps the published code's cost structure (pipeline notes, section 7): per (setup, form, pool)
a dense float one-hot matrix of ``non-probe questions x max options`` per person, one matmul of
the eval people against every pool person, a full ``torch.argsort`` per eval person keeping the top
500, and Python majority votes (``collections.Counter``) for every person, probe and cluster size;
the global majority is ``max(set(values), key=values.count)`` per question and the random baseline
averages 500 uniform draws per (person, probe).

Two published bugs are fixed so the accuracies can be compared with :mod:`baselines.resemble`:
missing answers never vote or win a majority, and a cluster without any valid vote falls back to
the pool majority (as ours does). Neighbour ties stay in ``torch.argsort`` order (arbitrary).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from ivr.catalog.store import Catalog

TOP = 500  # neighbours kept after the argsort, as published
RANDOM_DRAWS = 500


def _onehot(answers: np.ndarray, width: int) -> torch.Tensor:
    """Float one-hot [P, Q * width]; a missing answer is an all-zero block."""
    p, q = answers.shape
    out = torch.zeros(p, q, width + 1)
    idx = torch.from_numpy(np.where(answers >= 0, answers, width).astype(np.int64))
    out.scatter_(2, idx.unsqueeze(-1), 1.0)
    return out[:, :, :width].reshape(p, q * width)


def published_majority(answers: np.ndarray) -> list[int]:
    """Per column: the most common valid value (``max(set, key=count)``; lowest value on ties)."""
    out = []
    for col in answers.T:
        values = [int(v) for v in col if v >= 0]
        out.append(max(set(values), key=values.count))
    return out


def published_resemble(
    catalog: Catalog,
    eval_rows: np.ndarray,
    pool_rows: np.ndarray,
    probes: np.ndarray,
    form: str,
    max_n: int,
    fallback: list[int],
) -> np.ndarray:
    """Cluster votes int8 [max_n, E, K] the study's way (see the module docstring)."""
    answers = catalog.answers(form)
    n_q = answers.shape[1]
    features = np.setdiff1d(np.arange(n_q), probes)
    width = max(catalog.codebook.n_options(form))
    x_eval = _onehot(answers[np.ix_(eval_rows, features)], width)
    x_pool = _onehot(answers[np.ix_(pool_rows, features)], width)
    sim = x_eval @ x_pool.T
    order = torch.argsort(sim, dim=1, descending=True)[:, :TOP].numpy()
    labels = answers[np.ix_(pool_rows, probes)][order].tolist()  # [E][TOP][K] Python ints
    preds = np.empty((max_n, len(eval_rows), len(probes)), dtype=np.int8)
    for n in range(1, max_n + 1):
        for e, person_labels in enumerate(labels):
            top = person_labels[:n]
            for k in range(len(probes)):
                votes = [row[k] for row in top if row[k] >= 0]
                preds[n - 1, e, k] = Counter(votes).most_common(1)[0][0] if votes else fallback[k]
    return preds


def published_random(catalog: Catalog, eval_rows: np.ndarray, probes: np.ndarray, form: str, seed: int) -> float:
    """Mean accuracy (percent) of ``RANDOM_DRAWS`` uniform draws per (person, answered probe)."""
    rng = np.random.default_rng(seed)
    answers = catalog.answers(form)
    n_opt = catalog.codebook.n_options(form)
    accs = []
    for r in eval_rows:
        hits = [np.mean(rng.integers(0, n_opt[q], RANDOM_DRAWS) == answers[r, q]) for q in probes if answers[r, q] >= 0]
        if hits:
            accs.append(np.mean(hits))
    return float(100 * np.mean(accs))
