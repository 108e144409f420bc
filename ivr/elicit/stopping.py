"""When to stop asking: a stopping rule that works with every policy and every predictive scorer.

A *predictor* is ``predict(states, questions) -> float [N, M, O]``: each state's refined-option
probabilities of ``questions`` (nan or 0 past a question's options) -- the Bayes posterior's
predictive (:class:`ivr.predict.bayes.BayesPosterior`) or a trained reasoner's
(:class:`ivr.elicit.reasoner.ReasonerPredictor`), see :func:`bayes_predictor` / :func:`reasoner_predictor`.

Two quantities come from the predictor's own probabilities, so they need no policy score:

* the **expected accuracy** on the probes: the mean over the probes of the probability of the most
  probable option (the accuracy the predictor expects if its own probabilities are right);
* the **expected gain** of a question ``c``: the expected accuracy after ``c`` is answered, averaged
  over the predicted answers of ``c``, minus the expected accuracy now (for an exact posterior it is
  never negative). One prediction of the probes per option of ``c``.

:class:`StoppingRule` stops when the expected accuracy reaches ``target``, when the expected gain of the
question the policy would ask next falls below ``min_gain``, or after ``max_questions`` (asked,
skips included), whichever comes first; the policy running out of questions also ends the interview.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ivr.elicit.state import PersonState
from ivr.errors import ConfigError

Predictor = Callable[[list[PersonState], np.ndarray], np.ndarray]
REASONS = ("target", "gain", "max", "exhausted", "respondent")


def bayes_predictor(posterior: Any) -> Predictor:
    """The exact posterior's refined predictive as a :data:`Predictor`."""
    return lambda states, qs: posterior.predictive(states, np.asarray(qs), "refined")


def reasoner_predictor(predictor: Any) -> Predictor:
    """A :class:`ivr.elicit.reasoner.ReasonerPredictor`'s refined probabilities as a :data:`Predictor`."""
    return lambda states, qs: np.stack(predictor.predict(states, [np.asarray(qs)] * len(states), "refined"))


def expected_accuracy(probs: np.ndarray) -> np.ndarray:
    """float [...]: mean over probes (axis -2) of the most probable option's probability (axis -1)."""
    p = np.nan_to_num(np.asarray(probs, dtype=np.float64))
    return p.max(axis=-1).mean(axis=-1)


def extended(state: PersonState, question: int, answer: int) -> PersonState:
    """A copy of ``state`` with one more answer (its caches shared read-only: they are copied on update)."""
    s = PersonState(
        state.n_questions,
        state.probes,
        row=state.row,
        key=state.key,
        setup=state.setup,
        asked=[*state.asked, int(question)],
        answers=[*state.answers, int(answer)],
    )
    s.scratch.update({k: v for k, v in state.scratch.items() if isinstance(v, tuple)})
    return s


def expected_gain(
    predict: Predictor, state: PersonState, question: int, probes: np.ndarray, now: float | None = None
) -> float:
    """Expected accuracy on ``probes`` after ``question`` is answered, minus the expected accuracy now."""
    probes = np.asarray(probes, dtype=np.int64)
    p_answer = np.nan_to_num(np.asarray(predict([state], np.array([question]))[0, 0], dtype=np.float64))
    options = np.flatnonzero(p_answer > 0)
    if now is None:
        now = float(expected_accuracy(predict([state], probes))[0])
    if not len(options):
        return 0.0
    after = expected_accuracy(predict([extended(state, question, a) for a in options], probes))
    weights = p_answer[options] / p_answer[options].sum()
    return float(weights @ after) - float(now)


@dataclass(frozen=True)
class StoppingRule:
    """Stop at an expected accuracy, at a small expected gain or at a count (module doc).

    Attributes:
        max_questions: questions asked at most (skips count).
        target: expected probe accuracy (0-1) that ends the interview (None = never).
        min_gain: expected-accuracy gain of the next question below which it ends (None = never).
    """

    max_questions: int = 20
    target: float | None = None
    min_gain: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_questions, int) or self.max_questions < 0:
            raise ConfigError(f"stopping rule max_questions {self.max_questions!r}: use a count >= 0")
        if self.target is not None and not 0.0 < float(self.target) <= 1.0:
            raise ConfigError(f"stopping rule target {self.target!r}: use an expected accuracy in (0, 1], e.g. 0.7")
        if self.min_gain is not None and not 0.0 <= float(self.min_gain) < 1.0:
            raise ConfigError(f"stopping rule min_gain {self.min_gain!r}: use an expected gain in [0, 1), e.g. 0.002")

    @property
    def label(self) -> str:
        parts = [f"max {self.max_questions}"]
        if self.target is not None:
            parts.insert(0, f"acc >= {self.target:g}")
        if self.min_gain is not None:
            parts.insert(0 if self.target is None else 1, f"gain < {self.min_gain:g}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"max_questions": self.max_questions, "target": self.target, "min_gain": self.min_gain}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "stopping rule") -> StoppingRule:
        unknown = set(d) - {"max_questions", "target", "min_gain"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; use max_questions, target, min_gain")
        return cls(int(d.get("max_questions", 20)), d.get("target"), d.get("min_gain"))

    def decide(
        self, policy: Any, predict: Predictor, state: PersonState, probes: np.ndarray
    ) -> tuple[int | None, str | None, float, float | None]:
        """(next question or None, reason for stopping or None, expected accuracy now, expected gain).

        The gain is computed only when ``min_gain`` is set (it costs one prediction per option).
        """
        now = float(expected_accuracy(predict([state], probes))[0])
        if len(state.asked) >= self.max_questions:
            return None, "max", now, None
        if self.target is not None and now >= float(self.target):
            return None, "target", now, None
        q = policy.next_question(state)
        if q is None:
            return None, "exhausted", now, None
        gain = None
        if self.min_gain is not None:
            gain = expected_gain(predict, state, int(q), probes, now)
            if gain < float(self.min_gain):
                return None, "gain", now, gain
        return int(q), None, now, gain
