"""Elicitation policies: which question to ask a person next.

Every policy answers ``next_question(state) -> question index`` (None when nothing is left to
ask) and its batched form ``next_questions(states)``; a policy never returns a probe of the
state's setup or a question already asked (it picks among ``state.candidates``).

* :class:`RandomPolicy` -- a seeded random order per (seed, person, setup): today's demonstrations.
* :class:`FixedPolicy` -- one global order for everyone (:func:`learn_fixed_order`).
* :class:`GreedyPolicy` -- the base of the adaptive policies: the candidate with the highest score
  of :meth:`GreedyPolicy.scores` (Bayes expected information gain, a reasoner's predictive
  entropy, the disagreement of Resemble neighbours).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ivr.elicit.state import PersonState
from ivr.protocol.sampling import person_rng

TAG_ELICIT = 31  # RNG stream tag of the random policy (examples.py uses 21-25)


class Policy(ABC):
    """Chooses the next question of a person."""

    name: str = ""

    def next_question(self, state: PersonState) -> int | None:
        """The next question to ask ``state`` (None when no candidate is left)."""
        return self.next_questions([state])[0]

    @abstractmethod
    def next_questions(self, states: list[PersonState]) -> list[int | None]:
        """The next question of each state."""


class RandomPolicy(Policy):
    """Questions in a random order drawn once per (seed, person, setup); the first ``k`` are the k demonstrations."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._orders: dict[tuple, np.ndarray] = {}

    def order(self, state: PersonState) -> np.ndarray:
        key = (state.key, state.setup, state.n_questions)
        if key not in self._orders:
            rng = person_rng(self.seed, TAG_ELICIT, state.key, state.setup, 0)
            self._orders[key] = rng.permutation(state.n_questions)
        return self._orders[key]

    def next_questions(self, states: list[PersonState]) -> list[int | None]:
        out: list[int | None] = []
        for s in states:
            order = self.order(s)
            open_ = s.candidates[order]
            out.append(int(order[np.argmax(open_)]) if open_.any() else None)
        return out


class FixedPolicy(Policy):
    """One global question order (probes and asked questions skipped)."""

    name = "fixed"

    def __init__(self, order: np.ndarray) -> None:
        self.order = np.asarray(order, dtype=np.int64)

    def next_questions(self, states: list[PersonState]) -> list[int | None]:
        out: list[int | None] = []
        for s in states:
            open_ = s.candidates[self.order]
            out.append(int(self.order[np.argmax(open_)]) if open_.any() else None)
        return out


class GreedyPolicy(Policy):
    """The candidate with the highest score; ties go to the lowest question index."""

    @abstractmethod
    def scores(self, states: list[PersonState]) -> np.ndarray:
        """float [N, Q] score of asking each question next (any value for non-candidates)."""

    def next_questions(self, states: list[PersonState]) -> list[int | None]:
        if not states:
            return []
        scores = np.asarray(self.scores(states), dtype=np.float64)
        open_ = np.stack([s.candidates for s in states])
        scores = np.where(open_ & ~np.isnan(scores), scores, -np.inf)
        best = np.argmax(scores, axis=1)
        return [int(b) if o.any() else None for b, o in zip(best, open_)]


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats along ``axis`` (0 log 0 = 0; nan entries count as 0)."""
    p = np.nan_to_num(np.asarray(p, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=axis)


def pairwise_mi(refined: np.ndarray, n_options: np.ndarray) -> np.ndarray:
    """float [Q, Q]: empirical mutual information (nats) of every question pair (pairwise-complete people)."""
    n_p, n_q = refined.shape
    o = int(np.max(n_options))
    onehot = np.zeros((n_p, n_q * o), np.float32)
    r, q = np.nonzero(refined >= 0)
    onehot[r, q * o + refined[r, q].astype(np.int64)] = 1.0
    joint = (onehot.T @ onehot).reshape(n_q, o, n_q, o).transpose(0, 2, 1, 3).astype(np.float64)  # [Q, Q, O, O]
    total = joint.sum(axis=(2, 3), keepdims=True)
    pj = joint / np.maximum(total, 1)
    pa, pb = pj.sum(axis=3, keepdims=True), pj.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pj > 0, pj * np.log(pj / (pa * pb)), 0.0)
    return terms.sum(axis=(2, 3))


def learn_fixed_order(refined: np.ndarray, n_options: np.ndarray) -> np.ndarray:
    """One global order by greedy information about the rest, on training people.

    Max-relevance min-redundancy over the empirical pairwise mutual information: the next question
    maximises its mean information about the questions not yet chosen minus its mean information
    about those already chosen (so a question that repeats a chosen one comes late).

    Args:
        refined: int [P, Q] training people's refined answers (-1 missing).
        n_options: int [Q] refined options per question.

    Returns:
        int [Q]: every question index, first to ask first.
    """
    mi = pairwise_mi(refined, n_options)
    np.fill_diagonal(mi, 0.0)
    n_q = mi.shape[0]
    chosen: list[int] = []
    left = np.ones(n_q, dtype=bool)
    for _ in range(n_q):
        rest = left.sum() - 1
        relevance = (mi * left[None]).sum(axis=1) / max(rest, 1)
        redundancy = mi[:, chosen].mean(axis=1) if chosen else 0.0
        score = np.where(left, relevance - redundancy, -np.inf)
        q = int(np.argmax(score))
        chosen.append(q)
        left[q] = False
    return np.asarray(chosen, dtype=np.int64)
