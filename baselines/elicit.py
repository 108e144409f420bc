"""Resemble neighbours for adaptive elicitation: the ``neighbours`` policy and the Resemble scorer.

Both compare a person with a pool of training people on the questions answered so far, as
Resemble does (:mod:`baselines.resemble`: similarity = number of those questions answered with
the same option, ties by the seeded person-id order of :class:`baselines.neighbours.TieKeys`).

* :class:`NeighboursPolicy` asks the candidate on which the ``n`` nearest neighbours disagree most
  (the entropy of their refined answers; a neighbour who skipped it does not vote). Similarities are
  kept per person and updated by one pool column per answer, so a step costs O(pool).
* The Resemble scorer is :class:`baselines.predictors.Resemble` with ``features="shown"``, the shown
  questions being each person's answered ones (:func:`ivr.predict.examples.given_demos`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines.neighbours import TieKeys
from ivr.catalog.store import Catalog
from ivr.elicit.policies import GreedyPolicy, entropy
from ivr.elicit.state import PersonState
from ivr.protocol.sampling import id_keys


class NeighboursPolicy(GreedyPolicy):
    """The candidate on which the person's current nearest neighbours disagree most.

    Args:
        catalog: the catalog (pool answers).
        pool_rows: training rows the neighbours come from.
        n: neighbours consulted (Resemble's top cluster: 24).
        seed: tie-breaking seed.
    """

    name = "neighbours"

    def __init__(self, catalog: Catalog, pool_rows: np.ndarray, n: int = 24, seed: int = 0) -> None:
        self.pool_rows = np.asarray(pool_rows, dtype=np.int64)
        self.answers = catalog.refined[self.pool_rows].astype(np.int64)  # [P, Q]
        self.width = int(max(catalog.codebook.n_options("refined")))
        self.n = min(int(n), len(self.pool_rows))
        self.seed = seed
        self.pool_keys = id_keys(catalog.person_ids)[self.pool_rows]
        self._key = ("neighbours", id(self))  # this policy's entry in each state's scratch

    def similarity(self, state: PersonState) -> np.ndarray:
        """int [P]: agreements of each pool person with ``state``'s answers (cached, incremental)."""
        seen, sim = state.scratch.get(self._key, (0, np.zeros(len(self.pool_rows), np.int64)))
        if seen != len(state.asked):
            sim = sim.copy()
            for q, a in zip(state.asked[seen:], state.answers[seen:]):
                if a >= 0:
                    sim += self.answers[:, q] == a
            state.scratch[self._key] = (len(state.asked), sim)
        return sim

    def neighbours(self, state: PersonState) -> np.ndarray:
        """Pool positions of the ``n`` nearest (most agreements, then the seeded tie order)."""
        ties = TieKeys(id_keys(np.array([state.key])), self.pool_keys, self.seed)
        prio = ties.priority(np.zeros(1, np.int64), np.arange(len(self.pool_rows))[None])[0]
        order = np.lexsort((prio, -self.similarity(state)))
        return order[: self.n]

    def scores(self, states: list[PersonState]) -> np.ndarray:
        out = np.zeros((len(states), states[0].n_questions))
        for i, s in enumerate(states):
            votes = self.answers[self.neighbours(s)]  # [n, Q]
            counts = np.stack([(votes == o).sum(axis=0) for o in range(self.width)], axis=1).astype(np.float64)
            total = counts.sum(axis=1, keepdims=True)
            out[i] = entropy(counts / np.maximum(total, 1))
        return out


def neighbour_policy(catalog: Catalog, pool_rows: np.ndarray, n: int, seed: int) -> Any:
    """The ``neighbours`` policy (for entry points that import this module lazily)."""
    return NeighboursPolicy(catalog, pool_rows, n, seed)
