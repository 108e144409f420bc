"""Live interviews of many respondents at once, kept in a :class:`ivr.elicit.store.SessionStore`.

The web app (:mod:`ivr.elicit.serve`) and its JSON API call this class; it holds no HTTP. A turn:
the respondent answers the pending question with the sequence number they were shown; the answer
is validated, the probes' predictions after it are computed, and the answer is committed
(:meth:`SessionStore.record`); only then does the stopping rule (:mod:`ivr.elicit.stopping`) pick the
next question or end the interview, and that choice is committed too. A process that dies anywhere
in between loses nothing: a restarted server rebuilds each person's state from the committed answers
and, when the next question had not been chosen yet, chooses it then.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ivr.elicit.state import SKIPPED, PersonState
from ivr.elicit.stopping import Predictor, StoppingRule, expected_accuracy
from ivr.elicit.store import SessionError, SessionStore

TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 192 random bits, 32 URL-safe characters
ENDED = {
    "target": "finished",
    "gain": "finished",
    "max": "finished",
    "exhausted": "finished",
    "respondent": "interrupted",
}


def valid_token(token: str) -> bool:
    return isinstance(token, str) and len(token) == 32 and all(c.isalnum() or c in "-_" for c in token)


class LiveInterviews:
    """Every open interview of one server.

    Args:
        codebook: the catalog's codebook.
        policy: a :class:`ivr.elicit.policies.Policy`.
        predict: a :data:`ivr.elicit.stopping.Predictor` (refined probabilities).
        probes: the setup's probe questions (predicted, never asked).
        setup: the probe setup number.
        rule: the stopping rule.
        store: the sessions database.
        max_open: open interviews at most (a new one beyond is refused with 503).
        token: token factory (default ``secrets.token_urlsafe(24)``).
    """

    def __init__(
        self,
        codebook: Any,
        policy: Any,
        predict: Predictor,
        probes: np.ndarray,
        setup: int,
        rule: StoppingRule,
        store: SessionStore,
        max_open: int = 200,
        token: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
    ) -> None:
        self.codebook, self.policy, self.predict = codebook, policy, predict
        self.probes = np.asarray(probes, dtype=np.int64)
        self.setup, self.rule, self.store, self.max_open = setup, rule, store, max_open
        self.new_token = token
        self.n_questions = len(codebook.questions)
        self._states: dict[str, PersonState] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._compute = threading.Lock()  # one model call at a time (a torch module is not re-entrant)

    # ---- helpers ---------------------------------------------------------------------------------
    def lock(self, token: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(token, threading.Lock())

    def row(self, token: str):
        if not valid_token(token):
            raise SessionError("unknown session: no interview has this token (start a new one)", 404)
        return self.store.get(token)

    def state(self, token: str) -> PersonState:
        """The person's state: cached, or rebuilt from the committed answers (after a restart)."""
        s = self._states.get(token)
        answers = None
        if s is None or len(s.asked) != self.store.get(token).seq:
            answers = self.store.answers(token)
            s = PersonState(
                self.n_questions,
                self.probes,
                key=token,
                setup=self.setup,
                asked=[a.question for a in answers],
                answers=[a.answer for a in answers],
            )
            self._states[token] = s
        return s

    def probe_probs(self, state: PersonState) -> np.ndarray:
        with self._compute:
            return np.asarray(self.predict([state], self.probes)[0], dtype=np.float64)

    def probe_dict(self, probs: np.ndarray) -> dict[str, list[float]]:
        out = {}
        for j, q in enumerate(self.probes.tolist()):
            question = self.codebook.questions[q]
            out[question.id] = [round(float(x), 4) for x in np.nan_to_num(probs[j, : len(question.refined)])]
        return out

    def advance(self, token: str, seq: int) -> None:
        """Choose the next question (or end) after ``seq`` committed answers; commit the choice."""
        state = self.state(token)
        with self._compute:
            q, reason, _, _ = self.rule.decide(self.policy, self.predict, state, self.probes)
        self.store.set_pending(token, seq, q, reason)

    # ---- the steps -------------------------------------------------------------------------------
    def start(self) -> str:
        """A new interview with its first question chosen; returns its token."""
        token = self.new_token()
        self.store.create(token, self.setup, self.max_open)
        with self.lock(token):
            self.advance(token, 0)
        return token

    def view(self, token: str) -> dict[str, Any]:
        """Where the interview is: the pending question (or the end), progress and expected accuracy."""
        with self.lock(token):
            row = self.row(token)
            if row.status == "open" and row.pending is None:  # died between an answer and the next choice
                self.advance(token, row.seq)
                row = self.store.get(token)
            state = self.state(token)
        acc = float(expected_accuracy(self.probe_probs(state)))
        out: dict[str, Any] = {
            "token": token,
            "seq": row.seq,
            "asked": len(state.asked),
            "answered": int(len(state.answered[0])),
            "max_questions": self.rule.max_questions,
            "target": self.rule.target,
            "min_gain": self.rule.min_gain,
            "expected_accuracy": round(acc, 4),
            "done": row.status != "open",
            "reason": row.reason,
            "question": None,
        }
        if row.pending is not None and row.status == "open":
            question = self.codebook.questions[row.pending]
            out["question"] = {
                "index": int(row.pending),
                "id": question.id,
                "category": question.category,
                "number": len(state.asked) + 1,
                "options": list(question.statements("refined")),
            }
        return out

    def parse(self, answer: Any, n_options: int) -> int:
        """Option index of an answer (1-based option number, or "skip"); SessionError (422) otherwise."""
        if isinstance(answer, str) and answer.strip().lower() == "skip":
            return SKIPPED
        text = str(answer).strip()
        if isinstance(answer, bool) or not (isinstance(answer, int) or text.isdigit()):
            raise SessionError(f'answer {answer!r}: give an option number 1..{n_options} or "skip"', 422)
        number = int(text)
        if not 1 <= number <= n_options:
            raise SessionError(f'answer {number}: this question has options 1..{n_options} (or "skip")', 422)
        return number - 1

    def answer(self, token: str, seq: Any, answer: Any) -> dict[str, Any]:
        """Record answer ``seq`` (option number or "skip") to the pending question, then choose the next."""
        if isinstance(seq, bool) or not isinstance(seq, int) and not str(seq).isdigit():
            raise SessionError(f"seq {seq!r}: give the sequence number shown with the question", 422)
        seq = int(seq)
        with self.lock(token):
            row = self.row(token)
            if row.status == "open" and row.pending is None:  # died between an answer and the next choice
                self.advance(token, row.seq)
                row = self.store.get(token)
            if row.status != "open":
                raise SessionError("this interview has finished; its answers can no longer change", 409)
            if seq != row.seq or row.pending is None:
                raise SessionError(
                    f"answer number {seq} was not expected (the interview is at answer {row.seq}): "
                    "it was replayed or sent twice; reload the question",
                    409,
                )
            q = int(row.pending)
            question = self.codebook.questions[q]
            value = self.parse(answer, len(question.refined))
            state = self.state(token)
            after = PersonState(
                self.n_questions,
                self.probes,
                key=token,
                setup=self.setup,
                asked=[*state.asked, q],
                answers=[*state.answers, value],
            )
            probs = self.probe_probs(after)
            self.store.record(
                token, seq, q, question.id, value, float(expected_accuracy(probs)), self.probe_dict(probs)
            )
            state.record(q, value)
            self.advance(token, seq + 1)
        return self.view(token)

    def finish(self, token: str) -> dict[str, Any]:
        """The respondent ends the interview now (the answers so far are kept)."""
        with self.lock(token):
            self.row(token)
            self.store.finish(token, "respondent")
        return self.view(token)

    def predictions(self, token: str) -> dict[str, Any]:
        """Every probe's options with their predicted probabilities, most probable first."""
        with self.lock(token):
            self.row(token)
            state = self.state(token)
        probs = self.probe_probs(state)
        probes = []
        for j, q in enumerate(self.probes.tolist()):
            question = self.codebook.questions[q]
            p = np.nan_to_num(probs[j, : len(question.refined)])
            order = np.argsort(-p, kind="stable")
            probes.append(
                {
                    "id": question.id,
                    "category": question.category,
                    "options": [
                        {
                            "option": int(o) + 1,
                            "statement": question.statements("refined")[o],
                            "probability": round(float(p[o]), 4),
                        }
                        for o in order
                    ],
                }
            )
        return {
            "token": token,
            "asked": len(state.asked),
            "expected_accuracy": round(float(expected_accuracy(probs)), 4),
            "probes": probes,
        }


def transcript(codebook: Any, store: SessionStore, token: str, probes: np.ndarray) -> dict[str, Any]:
    """The terminal interview's transcript (``transcript.json`` of ``python -m ivr.elicit interview``)."""
    row = store.get(token)
    ended = "in progress" if row.status == "open" else ENDED.get(row.reason or "", "finished")
    return {
        "setup": row.setup,
        "probes": [codebook.questions[q].id for q in np.asarray(probes).tolist()],
        "ended": ended,
        "reason": row.reason,
        "turns": [
            {
                "question": a.question_id,
                "answer": "skip" if a.answer == SKIPPED else a.answer + 1,
                "predictions": a.predictions,
            }
            for a in store.answers(token)
        ],
    }
