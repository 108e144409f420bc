"""Greedy expected information gain under the synthetic population's exact posterior.

A synthetic person is one of K latent profiles (:mod:`ivr.catalog.synth.model`); given the answers
so far the posterior ``w`` over profiles is exact, and so is the predictive of any question. The
policy asks the candidate ``c`` with the largest expected information gain

    EIG(c) = I(Y_c; Z | answers) = H(sum_k w_k P(Y_c | k)) - sum_k w_k H(P(Y_c | k))

about the profile Z. Answers are independent given the profile, so for the unasked questions
``U`` ``I(Y_c; Y_U) <= I(Y_c; Z)`` with equality once ``Y_U`` identifies the profile; with ~250
unasked questions it nearly does, so EIG about Z is the EIG about the unasked questions' joint
answers (the brute-force pairwise sum over each unasked question would cost ~250x more per step).
One step for N people costs an [N, K] x [K, Q x O] product. Answers are read in the refined form.

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
from ivr.errors import ConfigError


def mixture_eig(weights: np.ndarray, probs: np.ndarray, profile_entropy: np.ndarray | None = None) -> np.ndarray:
    """float [N, Q]: I(Y_q; Z) for posterior ``weights`` [N, K] over components with answer ``probs`` [K, Q, O]."""
    from threadpoolctl import threadpool_limits

    k, q, o = probs.shape
    w = np.asarray(weights, dtype=probs.dtype)
    h_k = entropy(probs) if profile_entropy is None else profile_entropy  # [K, Q]
    with threadpool_limits(limits=1, user_api="blas"):  # the summation order of one thread (module doc)
        pred = (w @ probs.reshape(k, q * o)).reshape(len(w), q, o)
        return entropy(pred) - w.astype(np.float64) @ h_k


def normalise(log_post: np.ndarray) -> np.ndarray:
    """Posterior weights [N, K] from unnormalised log posteriors."""
    w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


class BayesPosterior:
    """Exact refined-answer posteriors of simulated or live people, updated one answer at a time.

    Args:
        model: the catalog's :class:`ivr.catalog.synth.SynthModel`.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.probs = model.option_probs("refined")  # [K, Q, O]
        self.log_probs = np.log(np.maximum(self.probs, 1e-300))
        prior = model.prior_logits(None, None)[0]
        self.prior = prior - np.logaddexp.reduce(prior)
        self._key = ("bayes", id(self))  # this posterior's entry in each state's scratch

    def log_posterior(self, state: PersonState) -> np.ndarray:
        """float64 [K] log posterior of ``state`` (cached; only new answers are added)."""
        seen, lp = state.scratch.get(self._key, (0, self.prior))
        if seen != len(state.asked):
            lp = lp.copy()
            for q, a in zip(state.asked[seen:], state.answers[seen:]):
                if a >= 0:
                    lp += self.log_probs[:, q, a]
            state.scratch[self._key] = (len(state.asked), lp)
        return lp

    def weights(self, states: list[PersonState]) -> np.ndarray:
        return normalise(np.stack([self.log_posterior(s) for s in states]))

    def predictive(self, states: list[PersonState], questions: np.ndarray, form: str) -> np.ndarray:
        """float [N, M, O]: P(option | answers so far) of ``questions`` in ``form``."""
        w = self.weights(states)
        pred = np.einsum("nk,kmo->nmo", w, self.model.option_probs(form)[:, np.asarray(questions)])
        return pred / pred.sum(axis=2, keepdims=True)


class BayesEIGPolicy(GreedyPolicy):
    """Greedy expected information gain about the profile (= about the unasked questions; module doc)."""

    name = "bayes-eig"

    def __init__(self, model: Any) -> None:
        self.posterior = BayesPosterior(model)
        self._h_k = entropy(self.posterior.probs)
        self._probs32 = self.posterior.probs.astype(np.float32)  # the step's one big product, in float32

    def scores(self, states: list[PersonState]) -> np.ndarray:
        return mixture_eig(self.posterior.weights(states), self._probs32, self._h_k)


def require_synthetic(catalog_dir: Any, what: str) -> Any:
    """The SynthModel of a synthetic catalog folder.

    Raises:
        ConfigError: the catalog is not synthetic (names ``what`` and the alternatives).
    """
    from ivr.catalog.synth import SynthModel

    try:
        return SynthModel.load(catalog_dir)
    except FileNotFoundError as err:
        raise ConfigError(f"{what}: {err}. It needs a synthetic catalog ('synthetic:people=N,seed=S'); on a real "
                          "catalog use the reasoner or neighbours policy / scorer instead") from err
