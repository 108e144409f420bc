"""An interview: ask a live (or scripted) respondent the next statement's options, show predictions.

Each turn the policy picks a question (never a probe of ``setup``); the respondent answers with an
option number (1-based, as shown) or ``skip``; then the predictor's distribution over each shown
probe's refined options is printed, most probable first, with probabilities. ``--answers FILE`` replays a scripted
respondent: one answer per line (``#`` starts a comment, blank lines are ignored); the interview ends
when the file does. Ctrl-C (or the end of the input) ends the session cleanly; the transcript is
written either way (``transcript.json`` and ``transcript.txt``, :func:`ivr.outputs.write_output`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivr.elicit.state import SKIPPED, PersonState
from ivr.errors import ConfigError, InputError, InputNotFoundError


@dataclass
class Turn:
    """One asked question: its index and id, the answer (option index or ``SKIPPED``) and the predictions."""

    question: int
    question_id: str
    answer: int
    predictions: dict[str, list[float]] = field(default_factory=dict)


ANSWER_RE = re.compile(r"[0-9]{1,4}|skip|s")  # ASCII digits only: str.isdigit() also takes '²', '٣'


def scripted_answers(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, answer text) of an answers file, read and checked whole before the interview starts.

    Raises:
        InputNotFoundError: the file does not exist.
        InputError: the file is not UTF-8 text, or a line is neither an option number nor ``skip`` (names
            the line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"--answers {path}: no such file (one answer per line: an option number or 'skip')")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise InputError(
            f"--answers {path}: line {line} is not UTF-8 text (byte {err.object[err.start]:#04x}); "
            "save the file as UTF-8, one option number or 'skip' per line"
        ) from None
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        answer = line.split("#", 1)[0].strip()
        if not answer:
            continue
        if not ANSWER_RE.fullmatch(answer.lower()):
            shown = answer if len(answer) <= 20 else f"{answer[:20]}... ({len(answer)} characters)"
            raise InputError(f"--answers {path}: line {n}: {shown!r} is not an option number (1, 2, ...) or 'skip'")
        out.append((n, answer))
    return iter(out)


def parse_answer(text: str, n_options: int) -> int | None:
    """Option index of an answer text (``SKIPPED`` for skip), None when it is not a valid answer."""
    text = text.strip().lower()
    if text in ("skip", "s"):
        return SKIPPED
    if ANSWER_RE.fullmatch(text) and 1 <= int(text) <= n_options:
        return int(text) - 1
    return None


class Interview:
    """A session.

    Args:
        codebook: the catalog's codebook (statements).
        policy: a :class:`ivr.elicit.policies.Policy`.
        predict: ``predict(state, probes) -> float [M, O]`` refined probabilities of the probes.
        probes: the setup's probe question indices (never asked; predictions shown for ``show`` of them).
        setup: the setup number.
        show: probes whose predictions are printed after each answer.
        top: options printed per probe.
        write: output function (default ``print``).
    """

    def __init__(
        self,
        codebook: Any,
        policy: Any,
        predict: Callable[[PersonState, np.ndarray], np.ndarray],
        probes: np.ndarray,
        setup: int = 0,
        show: int = 5,
        top: int = 2,
        write: Callable[[str], None] = print,
    ) -> None:
        self.codebook, self.policy, self.predict = codebook, policy, predict
        self.probes = np.asarray(probes, dtype=np.int64)
        self.state = PersonState(len(codebook.questions), self.probes, row=None, key="interview", setup=setup)
        self.show, self.top, self.write = show, top, write
        self.turns: list[Turn] = []
        self.lines: list[str] = []
        self.ended = "finished"

    def say(self, text: str) -> None:
        self.lines.append(text)
        self.write(text)

    def ask(self, q: int, number: int) -> None:
        question = self.codebook.questions[q]
        self.say(f"Question {number} ({question.id}, {question.category}): which statement fits you best?")
        for i, statement in enumerate(question.statements("refined"), start=1):
            self.say(f"  {i}. {statement}")

    def predictions(self) -> dict[str, list[float]]:
        probs = np.asarray(self.predict(self.state, self.probes), dtype=np.float64)
        out = {}
        self.say("Predicted answers to the probe questions:")
        for j, q in enumerate(self.probes.tolist()):
            question = self.codebook.questions[q]
            p = probs[j, : len(question.refined)]
            out[question.id] = [round(float(x), 4) for x in p]
            if j < self.show:
                best = np.argsort(-p, kind="stable")[: self.top]
                shown = "; ".join(f"{question.statements('refined')[b]} ({p[b]:.0%})" for b in best)
                self.say(f"  {question.id}: {shown}")
        return out

    def run(
        self, answers: Iterator[tuple[int, str]] | None, max_questions: int, read: Callable[[str], str] = input
    ) -> list[Turn]:
        """Ask up to ``max_questions`` questions; answers from ``answers`` (scripted) or ``read`` (live).

        Raises:
            ConfigError: a scripted answer that is not an option number or ``skip`` (names the line).
        """
        try:
            for number in range(1, max_questions + 1):
                q = self.policy.next_question(self.state)
                if q is None:
                    break
                self.ask(q, number)
                n_opt = len(self.codebook.questions[q].refined)
                answer = self._answer(answers, read, n_opt)
                if answer is None:
                    self.ended = "end of answers"
                    break
                self.state.record(q, answer)
                self.say(f"> {'skip' if answer == SKIPPED else answer + 1}")
                self.turns.append(Turn(q, self.codebook.questions[q].id, answer, self.predictions()))
        except KeyboardInterrupt:
            self.ended = "interrupted"
            self.say("(interrupted: ending the interview)")
        return self.turns

    def _answer(self, answers: Iterator[tuple[int, str]] | None, read: Callable[[str], str], n_opt: int) -> int | None:
        while True:
            if answers is not None:
                item = next(answers, None)
                if item is None:
                    return None
                line, text = item
                value = parse_answer(text, n_opt)
                if value is None:
                    raise ConfigError(f"--answers line {line}: {text!r} is not an option number 1..{n_opt} or 'skip'")
                return value
            try:
                text = read(f"answer (1-{n_opt} or skip): ")
            except EOFError:
                return None
            value = parse_answer(text, n_opt)
            if value is not None:
                return value
            print(f"  please type a number from 1 to {n_opt}, or skip", file=sys.stderr)

    def transcript(self) -> dict[str, Any]:
        return {
            "setup": self.state.setup,
            "probes": [self.codebook.questions[q].id for q in self.probes.tolist()],
            "ended": self.ended,
            "turns": [
                {
                    "question": t.question_id,
                    "answer": "skip" if t.answer == SKIPPED else t.answer + 1,
                    "predictions": t.predictions,
                }
                for t in self.turns
            ],
        }

    def save(self, folder: Path) -> None:
        """Write ``transcript.json`` and ``transcript.txt`` into ``folder``."""
        (folder / "transcript.json").write_text(json.dumps(self.transcript(), indent=1) + "\n", encoding="utf-8")
        (folder / "transcript.txt").write_text("\n".join(self.lines) + "\n", encoding="utf-8")
