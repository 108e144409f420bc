"""Majority votes of ranked neighbours for every cluster size 1..N in one pass.

Rules (documented in the README):

* only valid answers vote: a neighbour who did not answer a probe question is skipped for it;
* ties between options go to the option first voted by the nearer neighbour (so N = 1 is the
  top-1 neighbour's answer, and a split N = 2 vote keeps it; this is also what
  ``collections.Counter.most_common`` does on votes listed nearest first);
* when no neighbour of the cluster answered the question, the prediction falls back to the
  pool's global majority answer.

The pass walks the ranked neighbours once, keeping running vote counts per (person, probe,
option): adding neighbour ``n`` changes one option's count, so the leader after ``n`` neighbours
is either the previous leader or that option. Everything is vectorised over people and probes.
"""

from __future__ import annotations

import numpy as np


def vote_all_sizes(labels: np.ndarray, n_options: int, fallback: np.ndarray) -> np.ndarray:
    """Cluster-vote predictions for every cluster size.

    Args:
        labels: int [E, N, K] the ranked neighbours' option indices on K probe questions
            (-1 = the neighbour did not answer).
        n_options: the largest option count among the K questions.
        fallback: int [K] prediction used where no neighbour of the cluster voted.

    Returns:
        int8 [N, E, K]: element ``[n - 1, e, k]`` is the vote of the ``n`` nearest neighbours.
    """
    labels = np.asarray(labels)
    e_total, n_max, n_q = labels.shape
    flat = e_total * n_q
    by_rank = labels.transpose(1, 0, 2).reshape(n_max, flat).astype(np.int64)
    counts = np.zeros(flat * n_options, dtype=np.int32)  # running votes per (person, probe, option)
    first = np.full(flat * n_options, n_max, dtype=np.int32)  # rank of each option's first vote
    lead_count = np.zeros(flat, dtype=np.int32)
    lead_first = np.full(flat, n_max, dtype=np.int32)
    current = np.broadcast_to(np.asarray(fallback, dtype=np.int8)[None, :], (e_total, n_q)).reshape(-1).copy()
    out = np.empty((n_max, e_total, n_q), dtype=np.int8)
    for n in range(n_max):
        lab = by_rank[n]
        voted = np.flatnonzero(lab >= 0)
        cell = voted * n_options + lab[voted]
        c = counts[cell] + 1
        counts[cell] = c
        f = np.minimum(first[cell], n)
        first[cell] = f
        # only the voted option's score changed, so the leader is the old one or this option
        wins = (c > lead_count[voted]) | ((c == lead_count[voted]) & (f < lead_first[voted]))
        w = voted[wins]
        current[w] = lab[w]
        lead_count[w] = c[wins]
        lead_first[w] = f[wins]
        out[n] = current.reshape(e_total, n_q)
    return out
