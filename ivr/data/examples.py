"""Sampling recipes -> example records (which statements a sequence shows and which probes it asks).

Every draw is a pure function of (seed, epoch, person id, question / setup): the same example
comes out whatever the order, worker or rank that asks for it.

Training (the study's recipe, section 5 of the pipeline notes): for each target question, ``N``
training people valid on it; each example shows ``d`` demonstrations drawn from the person's valid
answers except the target, then probes the target. With ``probes_per_sequence`` K > 1, K - 1 more
of the person's valid questions (never among the demonstrations) are probed in the same sequence.

Evaluation: every (eval person, setup, probe form); packed = all probes of the setup after one
prefix whose demonstrations exclude the whole setup; unpacked = one probe per example whose
demonstrations exclude only that probe (the study's fine-tuned evaluation rule).

A person with fewer valid answers than requested gets all of them (documented behaviour); the
shortfall is recorded in ``Example.demos_requested`` vs ``len(demo_questions)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ivr.catalog.store import Catalog
from ivr.data.sampling import MIXED_RANGE, RAND_RANGE, demo_count, person_rng, sample_demos

FORMS = ("polar", "refined")
PROBE_FORMS = {"p": (0,), "r": (1,), "p+r": (0, 1)}
DEMO_FORMS = {"polar": 0, "refined": 1}
DEMOGRAPHIC_MODES = ("none", "with", "only")
OPTION_ORDERS = ("codebook", "shuffle")
COUNT_SPECS = ("mixed", "rand", "mixed+200")

# small int tags for the RNG streams drawn here (sampling.py uses 0, 1; splits.py 11, 12)
TAG_TRAIN = 21
TAG_PEOPLE = 22
TAG_SHUFFLE = 23


@dataclass(frozen=True)
class Recipe:
    """How examples are drawn.

    Attributes:
        demo_count: ``"200"`` (any integer), ``"mixed"`` (50..200), ``"rand"`` (100..200) or
            ``"mixed+200"`` (half of the examples each).
        probe_form: ``"p"``, ``"r"`` or ``"p+r"`` (one form per example, seeded).
        demo_form: ``"polar"`` or ``"refined"`` statements as demonstrations.
        demographics: ``"none"``, ``"with"`` (demographic statements first) or ``"only"``.
        option_order: ``"codebook"`` or ``"shuffle"`` (seeded, recorded per probe).
        probes_per_sequence: training probes per sequence (-1: every valid non-demonstration question).
        demo_questions: evaluation only: the question indices demonstrations may come from (None = all).
    """

    demo_count: str = "200"
    probe_form: str = "p+r"
    demo_form: str = "polar"
    demographics: str = "none"
    option_order: str = "codebook"
    probes_per_sequence: int = 1
    demo_questions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        count = str(self.demo_count)
        if not (count.isdigit() or count in COUNT_SPECS):
            raise ValueError(f"demo_count={self.demo_count!r}: use an integer such as '200', or one of {COUNT_SPECS}")
        checks = [
            ("probe_form", self.probe_form, tuple(PROBE_FORMS)), ("demo_form", self.demo_form, tuple(DEMO_FORMS)),
            ("demographics", self.demographics, DEMOGRAPHIC_MODES), ("option_order", self.option_order, OPTION_ORDERS),
        ]
        for flag, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{flag}={value!r} is not one of {allowed}")
        if self.probes_per_sequence == 0 or self.probes_per_sequence < -1:
            raise ValueError(f"probes_per_sequence={self.probes_per_sequence}: use a positive count or -1 (all)")


@dataclass
class Example:
    """One sequence to build: a person's shown statements and the probes asked after them.

    ``demo_options`` are the person's option indices (in ``demo_form``) of ``demo_questions``;
    ``demographics`` are demographic indices (codebook order) with their raw ``demographic_codes``;
    ``labels`` are codebook option indices of the probes in ``probe_forms`` (-1 missing);
    ``option_orders[k]`` lists the codebook option indices in presentation order.
    """

    row: int
    setup: int
    demo_form: int
    demo_questions: np.ndarray
    demo_options: np.ndarray
    demographics: np.ndarray
    demographic_codes: np.ndarray
    probe_questions: np.ndarray
    probe_forms: np.ndarray
    labels: np.ndarray
    option_orders: list[np.ndarray]
    demos_requested: int


class PersonTable:
    """Catalog answers as flat arrays for fast per-example lookups.

    Attributes:
        answers: int8 [2, P, Q] option indices (polar, refined), -1 missing.
        valid: bool [P, Q].
        demo_codes: int64 [P, D] raw code per demographic (codebook.demographics order), -1 missing.
        demo_valid: bool [P, D] whether the code has a statement.
        keys: person ids used as RNG keys (stable across catalog subsets).
        n_options: int [2, Q].
    """

    def __init__(self, catalog: Catalog) -> None:
        cb = catalog.codebook
        self.codebook = cb
        self.answers = np.stack([catalog.polar, catalog.refined]).astype(np.int8)
        self.valid = catalog.refined >= 0
        cols = [cb.demographic_columns.index(d.column) for d in cb.demographics]
        self.demo_codes = (catalog.demographics[:, cols].astype(np.int64) if cols
                           else np.zeros((len(catalog), 0), np.int64))
        self.demo_valid = np.zeros(self.demo_codes.shape, dtype=bool)
        for j, d in enumerate(cb.demographics):
            self.demo_valid[:, j] = np.isin(self.demo_codes[:, j], np.fromiter(d.values, dtype=np.int64))
        ids = catalog.person_ids
        self.keys = [int(x) if isinstance(x, (int, np.integer)) else str(x) for x in ids.tolist()]
        self.n_options = np.array([cb.n_options(f) for f in FORMS], dtype=np.int64)


def _count(spec: str, rng: np.random.Generator) -> int:
    """Demonstration count for a training example from its own RNG stream."""
    spec = str(spec)
    if spec == "mixed+200":
        spec = "200" if rng.random() < 0.5 else "mixed"
    if spec.isdigit():
        return int(spec)
    lo, hi = MIXED_RANGE if spec == "mixed" else RAND_RANGE
    return int(rng.integers(lo, hi + 1))


def _option_orders(
    table: PersonTable, recipe: Recipe, probes: np.ndarray, forms: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    n = [int(table.n_options[f, q]) for q, f in zip(probes, forms)]
    if recipe.option_order == "shuffle":
        return [rng.permutation(k) for k in n]
    return [np.arange(k) for k in n]


def _shown(table: PersonTable, recipe: Recipe, row: int, demos: np.ndarray) -> dict:
    """The shown-statement fields of an example: demonstrations and demographic statements."""
    form = DEMO_FORMS[recipe.demo_form]
    demo_idx = np.zeros(0, np.int64) if recipe.demographics == "none" else np.flatnonzero(table.demo_valid[row])
    return {
        "demo_form": form, "demo_questions": demos, "demo_options": table.answers[form, row, demos].astype(np.int64),
        "demographics": demo_idx, "demographic_codes": table.demo_codes[row, demo_idx],
    }


def train_example(table: PersonTable, recipe: Recipe, seed: int, epoch: int, question: int, row: int) -> Example:
    """The training example of (target question, person) in an epoch.

    Args:
        table: the catalog arrays.
        recipe: the sampling recipe.
        seed, epoch: the draw's identity.
        question: target question index (always probed first).
        row: catalog row of the person (must be valid on ``question``).
    """
    key = table.keys[row]
    rng = person_rng(seed, TAG_TRAIN, key, -1, epoch, question)
    d = 0 if recipe.demographics == "only" else _count(recipe.demo_count, rng)
    choices = PROBE_FORMS[recipe.probe_form]
    form = choices[int(rng.integers(len(choices)))] if len(choices) > 1 else choices[0]
    valid = table.valid[row]
    demos = sample_demos(valid, np.array([question]), d, seed, key, -1, epoch, tag=question + 1)
    probes = np.array([question], dtype=np.int64)
    if recipe.probes_per_sequence != 1:
        rest = valid.copy()
        rest[demos] = False
        rest[question] = False
        cand = np.flatnonzero(rest)
        take = len(cand) if recipe.probes_per_sequence == -1 else min(len(cand), recipe.probes_per_sequence - 1)
        probes = np.concatenate([probes, cand[rng.permutation(len(cand))[:take]]])
    forms = np.full(len(probes), form, dtype=np.int64)
    return Example(
        row=row, setup=-1, **_shown(table, recipe, row, demos), probe_questions=probes, probe_forms=forms,
        labels=table.answers[form, row, probes].astype(np.int64),
        option_orders=_option_orders(table, recipe, probes, forms, rng), demos_requested=d,
    )


def eval_example(
    table: PersonTable, recipe: Recipe, seed: int, row: int, setup: int, setup_probes: np.ndarray, form: int,
    probe: int | None = None,
) -> Example:
    """A fixed-protocol evaluation example.

    Args:
        table, recipe, seed: as for :func:`train_example` (``recipe.demo_count`` "mixed" is drawn
            per person and setup).
        row: catalog row.
        setup: setup number; ``setup_probes`` its probe question indices.
        form: probe form (0 polar, 1 refined, -1 both: every probe asked in each form after one
            prefix); the demonstrations do not depend on it.
        probe: ``None`` -> all setup probes, demonstrations exclude the setup; a question index ->
            that probe only, demonstrations exclude only it.
    """
    key = table.keys[row]
    d = 0 if recipe.demographics == "only" else demo_count(
        "200" if recipe.demo_count == "mixed+200" else recipe.demo_count, seed, key, setup, 0)
    asked = np.asarray(setup_probes if probe is None else [probe], dtype=np.int64)
    valid = table.valid[row]
    if recipe.demo_questions is not None:  # e.g. one category's questions (category_matrix)
        allowed = np.zeros(len(valid), dtype=bool)
        allowed[np.asarray(recipe.demo_questions, dtype=np.int64)] = True
        valid = valid & allowed
    demos = sample_demos(valid, asked, d, seed, key, setup, 0)
    form_list = (0, 1) if form == -1 else (form,)
    probes = np.concatenate([asked] * len(form_list))
    forms = np.repeat(np.asarray(form_list, dtype=np.int64), len(asked))
    orders: list[np.ndarray] = []
    for f in form_list:  # each form's option order has its own stream: packing both forms changes nothing
        rng = person_rng(seed, TAG_SHUFFLE, key, setup, 0, f, -1 if probe is None else probe)
        orders += _option_orders(table, recipe, asked, np.full(len(asked), f), rng)
    return Example(
        row=row, setup=setup, **_shown(table, recipe, row, demos), probe_questions=probes, probe_forms=forms,
        labels=table.answers[forms, row, probes].astype(np.int64), option_orders=orders, demos_requested=d,
    )


def train_people(
    table: PersonTable, rows: np.ndarray, n_per_question: int | None, seed: int
) -> list[np.ndarray]:
    """Per target question, the training people (catalog rows) valid on it: a seeded choice of N.

    Args:
        table: the catalog arrays.
        rows: the training pool (after any filter).
        n_per_question: N, or None for everyone valid on the question.
        seed: the seed (fixed over epochs: the people stay, their demonstrations are redrawn).

    Returns:
        One int64 array per question (fewer than N where fewer people are valid).
    """
    rows = np.asarray(rows, dtype=np.int64)
    keys = np.array([hash_key(table.keys[r]) for r in rows], dtype=np.uint64)
    order = rows[np.argsort(keys, kind="stable")]  # person-id order: independent of catalog row order
    out = []
    for q in range(table.valid.shape[1]):
        ok = order[table.valid[order, q]]
        if n_per_question is not None and len(ok) > n_per_question:
            pick = np.random.default_rng([seed, TAG_PEOPLE, q]).permutation(len(ok))[:n_per_question]
            ok = ok[np.sort(pick)]
        out.append(ok)
    return out


def hash_key(key: int | str) -> int:
    """A stable unsigned sort key for a person id (ints keep their order)."""
    if isinstance(key, int):
        return key & ((1 << 64) - 1)
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
