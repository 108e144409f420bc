"""What an elicitation knows about one person: the questions asked so far and the answers given.

A :class:`PersonState` is the input of every policy (``policy.next_question(state)``). Answers are
refined option indices (refined determines polar); ``-1`` records a question the person was asked
and declined (a missing catalog answer, or ``skip`` in an interview): it counts as asked and gives
no demonstration. The setup's probe questions are never candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SKIPPED = -1


@dataclass
class PersonState:
    """One person's elicitation so far.

    Attributes:
        n_questions: questions in the codebook.
        probes: question indices that are never asked (the setup's probes).
        row: catalog row of a simulated person (None for a live respondent).
        key: the person's RNG key (person id), for seeded policies.
        setup: the probe setup number (a seed stream of seeded policies).
        asked: question indices in the order asked.
        answers: refined option index of each asked question (``SKIPPED`` = declined).
        scratch: per-policy incremental caches (a posterior, neighbour similarities), kept with the
            person so that they can never be mixed up with another person's.
    """

    n_questions: int
    probes: np.ndarray
    row: int | None = None
    key: int | str = 0
    setup: int = 0
    asked: list[int] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    scratch: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.probes = np.asarray(self.probes, dtype=np.int64)
        self._open = np.ones(self.n_questions, dtype=bool)
        self._open[self.probes] = False
        for q in self.asked:
            self._open[q] = False

    @property
    def candidates(self) -> np.ndarray:
        """bool [Q]: questions that may be asked next (not a probe, not asked yet)."""
        return self._open.copy()

    @property
    def answered(self) -> tuple[np.ndarray, np.ndarray]:
        """(question indices, refined options) of the answered (not skipped) questions, in asked order."""
        q = np.asarray(self.asked, dtype=np.int64)
        a = np.asarray(self.answers, dtype=np.int64)
        keep = a != SKIPPED
        return q[keep], a[keep]

    def record(self, question: int, answer: int) -> None:
        """Record an answer (``SKIPPED`` for a declined question).

        Raises:
            ValueError: a probe or an already-asked question (a policy bug).
        """
        if not self._open[question]:
            kind = "a probe" if question in set(self.probes.tolist()) else "already asked"
            raise ValueError(f"question {question} is {kind}; it cannot be asked")
        self._open[question] = False
        self.asked.append(int(question))
        self.answers.append(int(answer))


def catalog_answer(refined: np.ndarray, row: int, question: int) -> int:
    """The person's refined option for ``question`` from the catalog (``SKIPPED`` when missing)."""
    a = int(refined[row, question])
    return a if a >= 0 else SKIPPED


def states_for(catalog, rows: np.ndarray, setup: int, probes: np.ndarray) -> list[PersonState]:
    """Fresh states of catalog ``rows`` for one setup."""
    ids = catalog.person_ids
    n_q = len(catalog.codebook.questions)
    out = []
    for r in np.asarray(rows).tolist():
        key = ids[r]
        key = int(key) if isinstance(key, (int, np.integer)) else str(key)
        out.append(PersonState(n_q, probes, row=int(r), key=key, setup=setup))
    return out


def simulate(policy, states: list[PersonState], refined: np.ndarray, steps: int, progress=None) -> None:
    """Ask ``steps`` questions of every state, answering from the catalog (a policy may stop early).

    Args:
        policy: a :class:`ivr.elicit.policies.Policy`.
        states: simulated people (``row`` set).
        refined: the catalog's refined answers [P, Q] (-1 missing).
        steps: questions to ask.
        progress: optional callable called once per step.
    """
    for _ in range(steps):
        live = [s for s in states if s.candidates.any()]
        if not live:
            break
        for s, q in zip(live, policy.next_questions(live)):
            if q is not None:
                s.record(int(q), catalog_answer(refined, s.row, int(q)))
        if progress is not None:
            progress()
