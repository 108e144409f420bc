"""Sampling recipes -> example records (which statements a sequence shows and which probes it asks).

Every draw is a pure function of (seed, epoch, person id, question / setup): the same example
comes out whatever the order, worker or rank that asks for it.

Training (the study's recipe, section 5 of the pipeline notes): for each target question, ``N``
training people valid on it, each serving one of the run's units (:mod:`ivr.protocol.units`: a
demonstration form, a demonstration count and a probe form); each example shows ``d``
demonstrations drawn from the person's valid answers except the target, then probes the target.
With ``probes_per_sequence`` K > 1, K - 1 more of the person's valid questions (never among the
demonstrations) are probed in the same sequence, in the unit's probe form.

Evaluation: every (eval person, setup, probe form); the demonstration form follows the evaluation
view (:mod:`ivr.protocol.conventions`). One demonstration rule for packed (all probes of the setup after
one prefix) and unpacked (one probe per example) evaluation: the demonstrations exclude every probe
of the setup, so both layouts show the same statements; ``Recipe.demo_rule="probe"`` is the study's
per-probe rule (unpacked only: only the probed question is left out).

A person with fewer valid answers than requested gets all of them (documented behaviour); the
shortfall is recorded in ``Example.demos_requested`` vs ``len(demo_questions)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ivr.catalog.store import Catalog
from ivr.protocol.conventions import DEMO_RULES
from ivr.protocol.sampling import MIXED_RANGE, RAND_RANGE, demo_count, hash_key, person_rng, sample_demos
from ivr.protocol.units import FORM_CHOICES, Unit, legacy_units

FORMS = ("polar", "refined")
PROBE_FORMS = {"p": (0,), "r": (1,), "p+r": (0, 1)}
DEMO_FORMS = {"polar": 0, "refined": 1}
DEMOGRAPHIC_MODES = ("none", "with", "only")
OPTION_ORDERS = ("codebook", "shuffle")
COUNT_SPECS = ("mixed", "rand", "mixed+200")

# small int tags for the RNG streams drawn here (sampling.py uses 0, 1; splits.py 11, 12; units.py 24)
TAG_TRAIN = 21
TAG_PEOPLE = 22
TAG_SHUFFLE = 23
TAG_UNIT_PICK = 25

__all__ = [
    "Example",
    "PersonTable",
    "Recipe",
    "eval_demos",
    "eval_example",
    "hash_key",
    "train_example",
    "train_people",
]


@dataclass(frozen=True)
class Recipe:
    """How examples are drawn.

    Attributes:
        demo_count: training shorthand (when ``units`` is None) and the evaluation count:
            ``"200"`` (any integer), ``"mixed"`` (50..200), ``"rand"`` (100..200) or ``"mixed+200"``
            (training: half of the examples each; evaluation: 200).
        probe_form: training shorthand: ``"p"``, ``"r"`` or ``"p+r"``.
        demo_form: training shorthand ``"polar"``, ``"refined"`` or ``"p+r"``; the evaluation
            default demonstration form when an example is built without one.
        demographics: ``"none"``, ``"with"`` (demographic statements first) or ``"only"`` (demographic
            statements and no demonstrations, in every example).
        option_order: ``"codebook"`` or ``"shuffle"`` (seeded, recorded per probe).
        probes_per_sequence: training probes per sequence (-1: every valid non-demonstration question).
        demo_questions: evaluation only: the question indices demonstrations may come from (None = all).
        units: the training units (None: those of the shorthand keys, :func:`ivr.protocol.units.legacy_units`).
        demo_rule: evaluation only: ``"setup"`` (exclude every probe of the setup) or ``"probe"``.
    """

    demo_count: str = "200"
    probe_form: str = "p+r"
    demo_form: str = "polar"
    demographics: str = "none"
    option_order: str = "codebook"
    probes_per_sequence: int = 1
    demo_questions: tuple[int, ...] | None = None
    units: tuple[Unit, ...] | None = None
    demo_rule: str = "setup"

    def __post_init__(self) -> None:
        count = str(self.demo_count)
        if not (count.isdigit() or count in COUNT_SPECS):
            raise ValueError(f"demo_count={self.demo_count!r}: use an integer such as '200', or one of {COUNT_SPECS}")
        checks = [
            ("probe_form", self.probe_form, tuple(PROBE_FORMS)),
            ("demo_form", self.demo_form, ("polar", "refined", "p", "r", "p+r")),
            ("demographics", self.demographics, DEMOGRAPHIC_MODES),
            ("option_order", self.option_order, OPTION_ORDERS),
            ("eval_demo_rule", self.demo_rule, DEMO_RULES),
        ]
        for flag, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{flag}={value!r} is not one of {allowed}")
        if self.probes_per_sequence == 0 or self.probes_per_sequence < -1:
            raise ValueError(f"probes_per_sequence={self.probes_per_sequence}: use a positive count or -1 (all)")

    @property
    def train_units(self) -> tuple[Unit, ...]:
        """The training units (``units``, else those the shorthand keys stand for)."""
        if self.units is not None:
            return self.units
        return legacy_units(self.demo_count, self.probe_form, self.demo_form, self.demographics)

    @property
    def default_demo_form(self) -> int:
        """Demonstration form of an evaluation example built without one (the first of ``demo_form``)."""
        return DEMO_FORMS[FORM_CHOICES[self.demo_form][0]]


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
        self.demo_codes = (
            catalog.demographics[:, cols].astype(np.int64) if cols else np.zeros((len(catalog), 0), np.int64)
        )
        self.demo_valid = np.zeros(self.demo_codes.shape, dtype=bool)
        for j, d in enumerate(cb.demographics):
            self.demo_valid[:, j] = np.isin(self.demo_codes[:, j], np.fromiter(d.values, dtype=np.int64))
        ids = catalog.person_ids
        self.keys = [int(x) if isinstance(x, (int, np.integer)) else str(x) for x in ids.tolist()]
        self.n_options = np.array([cb.n_options(f) for f in FORMS], dtype=np.int64)


def _count(spec: str, rng: np.random.Generator) -> int:
    """Demonstration count of a training example from its own RNG stream."""
    spec = str(spec)
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


def _shown(table: PersonTable, row: int, demos: np.ndarray, demo_form: int, demographics: bool) -> dict:
    """The shown-statement fields of an example: demonstrations and demographic statements."""
    demo_idx = np.flatnonzero(table.demo_valid[row]) if demographics else np.zeros(0, np.int64)
    return {
        "demo_form": demo_form,
        "demo_questions": demos,
        "demo_options": table.answers[demo_form, row, demos].astype(np.int64),
        "demographics": demo_idx,
        "demographic_codes": table.demo_codes[row, demo_idx],
    }


def train_example(
    table: PersonTable,
    recipe: Recipe,
    seed: int,
    epoch: int,
    question: int,
    row: int,
    unit: Unit | None = None,
) -> Example:
    """The training example of (target question, person) in an epoch.

    Args:
        table: the catalog arrays.
        recipe: the sampling recipe.
        seed, epoch: the draw's identity.
        question: target question index (always probed first).
        row: catalog row of the person (must be valid on ``question``).
        unit: the person's unit for this question (the data set assigns it with exact shares); None
            draws one of ``recipe.train_units`` by share from the example's own stream.
    """
    key = table.keys[row]
    rng = person_rng(seed, TAG_TRAIN, key, -1, epoch, question)
    if unit is None:
        units = recipe.train_units
        w = np.array([u.share for u in units], dtype=np.float64)
        pick = person_rng(seed, TAG_UNIT_PICK, key, -1, epoch, question).choice(len(units), p=w / w.sum())
        unit = units[int(pick)]
    only = unit.demographics_only or recipe.demographics == "only"
    d = 0 if only else _count(unit.demo_count, rng)
    form = FORMS.index(unit.probe_form)
    demo_form = DEMO_FORMS.get(unit.demo_form, form)  # demographic-only units show no statement form
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
    shown = _shown(table, row, demos, demo_form, only or recipe.demographics == "with")
    return Example(
        row=row,
        setup=-1,
        **shown,
        probe_questions=probes,
        probe_forms=forms,
        labels=table.answers[form, row, probes].astype(np.int64),
        option_orders=_option_orders(table, recipe, probes, forms, rng),
        demos_requested=d,
    )


def eval_demos(
    table: PersonTable,
    recipe: Recipe,
    seed: int,
    row: int,
    setup: int,
    setup_probes: np.ndarray,
    probe: int | None = None,
) -> tuple[np.ndarray, int]:
    """The demonstration questions of a person in an evaluation setup, and the count requested.

    The one sampler every evaluated method uses (the reasoner's data sets, the Bayes predictor,
    Resemble restricted to shown demonstrations): the draw depends on (seed, person id, setup) and,
    under ``recipe.demo_rule="probe"``, on which question is left out -- never on the form.

    Args:
        table, recipe, seed: as for :func:`eval_example`.
        row: catalog row; setup: setup number; setup_probes: its probe question indices.
        probe: the probed question (rule ``"probe"`` leaves only it out; ignored by rule ``"setup"``).

    Raises:
        ValueError: rule ``"probe"`` without a probed question.
    """
    key = table.keys[row]
    d = (
        0
        if recipe.demographics == "only"
        else demo_count("200" if recipe.demo_count == "mixed+200" else recipe.demo_count, seed, key, setup, 0)
    )
    if recipe.demo_rule == "probe":
        if probe is None:
            raise ValueError(
                "eval_demo_rule='probe' leaves out the probed question only, so it needs one probe "
                "per sequence: set eval_packed: false (or use eval_demo_rule: setup)"
            )
        exclude = np.asarray([probe], dtype=np.int64)
    else:
        exclude = np.asarray(setup_probes, dtype=np.int64)
    valid = table.valid[row]
    if recipe.demo_questions is not None:  # e.g. one category's questions (category_matrix)
        allowed = np.zeros(len(valid), dtype=bool)
        allowed[np.asarray(recipe.demo_questions, dtype=np.int64)] = True
        valid = valid & allowed
    return sample_demos(valid, exclude, d, seed, key, setup, 0), d


def eval_example(
    table: PersonTable,
    recipe: Recipe,
    seed: int,
    row: int,
    setup: int,
    setup_probes: np.ndarray,
    form: int,
    probe: int | None = None,
    demo_form: int | None = None,
) -> Example:
    """A fixed-protocol evaluation example.

    Args:
        table, recipe, seed: as for :func:`train_example` (``recipe.demo_count`` "mixed" is drawn
            per person and setup).
        row: catalog row.
        setup: setup number; ``setup_probes`` its probe question indices.
        form: probe form (0 polar, 1 refined, -1 both: every probe asked in each form after one
            prefix); the demonstration questions do not depend on it.
        probe: ``None`` -> all setup probes; a question index -> that probe only. The demonstrations
            follow ``recipe.demo_rule`` (:func:`eval_demos`) either way.
        demo_form: form of the demonstration statements (0 / 1); None = ``recipe.default_demo_form``.
    """
    key = table.keys[row]
    demos, d = eval_demos(table, recipe, seed, row, setup, setup_probes, probe)
    asked = np.asarray(setup_probes if probe is None else [probe], dtype=np.int64)
    form_list = (0, 1) if form == -1 else (form,)
    probes = np.concatenate([asked] * len(form_list))
    forms = np.repeat(np.asarray(form_list, dtype=np.int64), len(asked))
    orders: list[np.ndarray] = []
    for f in form_list:  # each form's option order has its own stream: packing both forms changes nothing
        rng = person_rng(seed, TAG_SHUFFLE, key, setup, 0, f, -1 if probe is None else probe)
        orders += _option_orders(table, recipe, asked, np.full(len(asked), f), rng)
    demo_form = recipe.default_demo_form if demo_form is None else int(demo_form)
    shown = _shown(table, row, demos, demo_form, recipe.demographics != "none")
    return Example(
        row=row,
        setup=setup,
        **shown,
        probe_questions=probes,
        probe_forms=forms,
        labels=table.answers[forms, row, probes].astype(np.int64),
        option_orders=orders,
        demos_requested=d,
    )


def train_people(table: PersonTable, rows: np.ndarray, n_per_question: int | None, seed: int) -> list[np.ndarray]:
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
