"""A trained reasoner as an elicitation predictor, scorer and (uncertainty) policy.

:class:`ReasonerPredictor` shows a person's answers so far as demonstrations and reads the
reasoner's option probabilities for any set of questions -- the same token layout, tokenizer and
option order the reasoner was evaluated with (its data module), one packed sequence per person
(every asked question after one prefix; a prefix that does not fit ``max_seq_length`` loses whole
statements from its end, as in evaluation).

:class:`ReasonerPolicy` asks the candidate whose predicted refined distribution has the highest
entropy (uncertainty sampling). Why not the expected information gain: an EIG needs one forward
pass per (candidate, hypothetical answer), ~250 x 5 passes per step per person, where the entropy of
every candidate comes from a single pass with all candidates as probes; on a CPU only the latter
is affordable. Its known weakness: entropy cannot tell a question the model is unsure about from one
people answer at random (noise), which EIG discounts. ``stride`` questions are taken per model call
(the most uncertain first) to trade adaptivity for speed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ivr.elicit.policies import GreedyPolicy, entropy
from ivr.elicit.state import PersonState
from ivr.protocol.examples import Example

FORM_INDEX = {"polar": 0, "refined": 1}


def refined_to_polar(codebook: Any) -> list[np.ndarray]:
    """Per question, int [refined options]: the polar option of each refined option."""
    out = []
    for q in codebook.questions:
        polar = q.code_to_index("polar")
        out.append(np.array([polar[o.codes[0]] for o in q.refined], dtype=np.int64))
    return out


class ReasonerPredictor:
    """Option probabilities of a trained reasoner given each person's answers so far.

    Args:
        module: an :class:`ivr.model.module.IndieValueReasoner` (eval mode).
        datamodule: its :class:`ivr.data.datamodule.IVRDataModule`, set up (tokenizer, token cache).
        view: evaluation view: the demonstration form each probe form is shown with (``matched``).
        batch_size: sequences per forward pass.
    """

    def __init__(self, module: Any, datamodule: Any, view: str = "matched", batch_size: int = 16) -> None:
        from ivr.protocol.conventions import demo_form_for

        self.module, self.dm, self.batch_size = module, datamodule, batch_size
        self.demo_form = {f: demo_form_for(view, i) for f, i in FORM_INDEX.items()}
        self.to_polar = refined_to_polar(datamodule.catalog.codebook)
        self.n_options = np.array([datamodule.catalog.codebook.n_options(f) for f in FORM_INDEX], dtype=np.int64)

    def example(self, state: PersonState, questions: np.ndarray, form: str) -> Example:
        q, a = state.answered
        demo_form = self.demo_form[form]
        if demo_form == 0:
            a = np.array([self.to_polar[int(x)][int(y)] for x, y in zip(q, a)], dtype=np.int64)
        f = FORM_INDEX[form]
        questions = np.asarray(questions, dtype=np.int64)
        if state.row is not None:
            labels = self.dm.table.answers[f, state.row, questions].astype(np.int64)
        else:
            labels = np.full(len(questions), -1, np.int64)
        return Example(
            row=0 if state.row is None else state.row,
            setup=state.setup,
            demo_form=demo_form,
            demo_questions=q,
            demo_options=a.astype(np.int64),
            demographics=np.zeros(0, np.int64),
            demographic_codes=np.zeros(0, np.int64),
            probe_questions=questions,
            probe_forms=np.full(len(questions), f, np.int64),
            labels=labels,
            option_orders=[np.arange(int(self.n_options[f, x])) for x in questions],
            demos_requested=len(q),
        )

    @torch.no_grad()
    def predict(self, states: list[PersonState], questions: list[np.ndarray], form: str) -> list[np.ndarray]:
        """Per state, float [len(questions[i]), 8]: option probabilities (codebook order, nan padding)."""
        from ivr.data.collate import Collator
        from ivr.data.packing import sequences
        from ivr.model.predictions import flatten_probes

        collate = Collator(self.dm._pad_id(), packed=True)
        max_len = self.dm.hparams.max_seq_length
        out: list[np.ndarray] = []
        for start in range(0, len(states), self.batch_size):
            chunk = list(zip(states, questions))[start : start + self.batch_size]
            items = []
            for s, qs in chunk:
                ex = self.example(s, qs, form)
                items += sequences(self.dm.cache.build(ex, max_len), ex, packed=True)
            batch = collate(items)
            flat = flatten_probes(batch, self.module(batch))
            probs = flat["probs"].cpu().numpy()
            at = 0
            for _, qs in chunk:
                out.append(probs[at : at + len(qs)])
                at += len(qs)
        return out


class ReasonerPolicy(GreedyPolicy):
    """Uncertainty sampling: the candidate with the most uncertain refined prediction (module doc)."""

    name = "reasoner"

    def __init__(self, predictor: ReasonerPredictor, stride: int = 1) -> None:
        self.predictor, self.stride = predictor, max(1, int(stride))
        self._key = ("reasoner", id(self))  # this policy's queue in each state's scratch

    def scores(self, states: list[PersonState]) -> np.ndarray:
        cands = [np.flatnonzero(s.candidates) for s in states]
        probs = self.predictor.predict(states, cands, "refined")
        out = np.full((len(states), states[0].n_questions), -np.inf)
        for i, (c, p) in enumerate(zip(cands, probs)):
            out[i, c] = entropy(p)
        return out

    def next_questions(self, states: list[PersonState]) -> list[int | None]:
        need = [s for s in states if not s.scratch.get(self._key)]
        if need:
            scores = self.scores(need)
            for s, row in zip(need, scores):
                ok = s.candidates & np.isfinite(row)
                order = np.flatnonzero(ok)[np.argsort(-row[ok], kind="stable")]
                s.scratch[self._key] = order[: self.stride].tolist()
        out: list[int | None] = []
        for s in states:
            queue = s.scratch.get(self._key) or []
            while queue and not s.candidates[queue[0]]:
                queue.pop(0)
            out.append(queue.pop(0) if queue else super().next_questions([s])[0])
        return out
