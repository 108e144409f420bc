"""Greedy expected information gain under the synthetic population's exact posterior.

A synthetic person is one of K latent profiles (:mod:`ivr.catalog.synth.model`); given the answers
so far the posterior ``w`` over profiles is exact, and so is the predictive of any question. The
policy asks the candidate ``c`` with the largest expected information gain

    EIG(c) = I(Y_c; Z | answers) = H(sum_k w_k P(Y_c | k)) - sum_k w_k H(P(Y_c | k))

about the profile Z. Answers are independent given the profile, so for the unasked questions
``U`` ``I(Y_c; Y_U) <= I(Y_c; Z)`` with equality once ``Y_U`` identifies the profile; with ~250
unasked questions it nearly does, so EIG about Z is the EIG about the unasked questions' joint
answers (the brute-force pairwise sum over each unasked question would cost ~250x more per step).
The posterior itself is :class:`ivr.predict.bayes.BayesPosterior`. One step for N people costs an [N, K] x [K, Q x O] product. Answers are read in the refined form.

That product runs on one BLAS thread: a multi-threaded BLAS sums in an order that depends on the
thread count, which moves the last bits of near-tied EIG scores and with them the question asked
(measured: 9 of 300 bayes-eig sequences of the quick run differed between OMP_NUM_THREADS=1 and 2).
On one thread the sequences, and every row scored from them, are the same on any machine setting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.elicit.policies import GreedyPolicy, entropy
from ivr.elicit.state import PersonState
from ivr.predict.bayes import BayesPosterior


def mixture_eig(weights: np.ndarray, probs: np.ndarray, profile_entropy: np.ndarray | None = None) -> np.ndarray:
    """float [N, Q]: I(Y_q; Z) for posterior ``weights`` [N, K] over components with answer ``probs`` [K, Q, O]."""
    from threadpoolctl import threadpool_limits

    k, q, o = probs.shape
    w = np.asarray(weights, dtype=probs.dtype)
    h_k = entropy(probs) if profile_entropy is None else profile_entropy  # [K, Q]
    with threadpool_limits(limits=1, user_api="blas"):  # the summation order of one thread (module doc)
        pred = (w @ probs.reshape(k, q * o)).reshape(len(w), q, o)
        return entropy(pred) - w.astype(np.float64) @ h_k


class BayesEIGPolicy(GreedyPolicy):
    """Greedy expected information gain about the profile (= about the unasked questions; module doc)."""

    name = "bayes-eig"

    def __init__(self, model: Any) -> None:
        self.posterior = BayesPosterior(model)
        self._h_k = entropy(self.posterior.probs)
        self._probs32 = self.posterior.probs.astype(np.float32)  # the step's one big product, in float32

    def scores(self, states: list[PersonState]) -> np.ndarray:
        return mixture_eig(self.posterior.weights(states), self._probs32, self._h_k)
