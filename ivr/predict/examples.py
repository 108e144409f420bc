"""The protocol's evaluation examples, prepared once and handed to every predictor.

:class:`PreparedExamples` holds, for one evaluation view: the evaluated people (catalog rows), the
training people, the probe setups, the demonstration questions each person is shown per setup (the
protocol's own sampler, :func:`ivr.protocol.examples.eval_demos`: the questions a reasoner sees under the
same seed, count, rule and allowed questions), the demonstration form of each probe form and the
person-id keys that break ties. A predictor reads an evaluated person's answers only through
:meth:`PreparedExamples.shown_answers` (-1 outside the shown demonstrations), so an answer the person
is not shown cannot reach its prediction; the training people are read whole through
:class:`TrainView`.

Which people: ``"test"`` (the split's test half: what ``ivr.fit`` and ``ivr.evaluate`` score, the
validation half having chosen the checkpoint), ``"val"`` (the validation half) or ``"evaluation"`` (test + validation: the study's
Table-3 baselines on all 800). ``limit`` keeps the first n of them, as ``--data.limit_eval_people``
does in the data module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.errors import ConfigError
from ivr.protocol.conventions import demo_form_for
from ivr.protocol.examples import PersonTable, Recipe, eval_demos
from ivr.protocol.sampling import id_keys

PEOPLE = ("test", "val", "evaluation")


@dataclass
class TrainView:
    """What a learning predictor may read: the training people whole, and the protocol's settings.

    Attributes:
        catalog: the catalog (only ``rows`` may be read).
        rows: training catalog rows (the split's training pool).
        setups: setup number -> probe question indices.
        demo_count: evaluation demonstrations per person and setup (``"200"``, ``"mixed"`` ...; ``"all"`` is
            stored as the codebook's question count), so a predictor can simulate the protocol's masking on its
            training people.
        seed: the data seed (every draw is keyed on it and on person ids).
        keys: uint64 person-id key of every catalog row.
        demo_questions: questions demonstrations may come from (None = all).
    """

    catalog: Catalog
    rows: np.ndarray
    setups: dict[int, np.ndarray]
    demo_count: str
    seed: int
    keys: np.ndarray
    demo_questions: tuple[int, ...] | None = None

    def answers(self, form: str) -> np.ndarray:
        """int8 [N, Q] the training people's answers in ``form`` (-1 missing)."""
        return self.catalog.answers(form)[self.rows]


@dataclass
class PreparedExamples:
    """The evaluation examples of one view (see the module docstring).

    Attributes:
        catalog: the catalog.
        rows: int64 [E] evaluated catalog rows.
        train: the training view (the same object for every view).
        setups: setup number -> probe question indices.
        view: evaluation view (``matched``, ``crossed``, ``polar`` or ``refined``).
        people: ``"test"`` or ``"evaluation"`` (which people ``rows`` are).
        demo_rule: ``"setup"`` or ``"probe"`` (the study's per-probe rule: no shared shown set per setup).
        demos: setup -> per person the shown demonstration questions in the sampler's order
            (empty under rule ``"probe"``).
        shown: setup -> bool [E, Q] the same as a mask.
        table: the catalog as a :class:`PersonTable` (shared with the data module when it has one).
    """

    catalog: Catalog
    rows: np.ndarray
    train: TrainView
    setups: dict[int, np.ndarray]
    view: str = "matched"
    people: str = "test"
    demo_rule: str = "setup"
    demos: dict[int, list[np.ndarray]] = field(default_factory=dict)
    shown: dict[int, np.ndarray] = field(default_factory=dict)
    table: PersonTable | None = None

    @property
    def n_people(self) -> int:
        return int(len(self.rows))

    @property
    def seed(self) -> int:
        return self.train.seed

    @property
    def keys(self) -> np.ndarray:
        return self.train.keys

    @property
    def demo_count(self) -> str:
        return self.train.demo_count

    def demo_form(self, form: str) -> str:
        """The demonstration form this view gives probe form ``form``."""
        return FORMS[demo_form_for(self.view, FORMS.index(form))]

    def shown_answers(self, setup: int, form: str) -> np.ndarray:
        """int8 [E, Q] each person's answers in the demonstration form of probe form ``form``, -1 wherever
        the question is not one of their shown demonstrations in ``setup``: all a predictor may read of them.

        Raises:
            ConfigError: under the per-probe demonstration rule (no one shown set per setup).
        """
        if self.demo_rule != "setup":
            raise ConfigError(
                "eval_demo_rule='probe' shows each probe its own demonstrations; the statistical "
                "predictors read one shown set per (person, setup): use --data.eval_demo_rule setup"
            )
        answers = self.catalog.answers(self.demo_form(form))[self.rows]
        return np.where(self.shown[setup], answers, -1).astype(np.int8)

    def pairs(self) -> list[tuple[int, str]]:
        """Every (setup, probe form) scored, setups first within a form (the tables' order)."""
        return [(s, f) for f in FORMS for s in self.setups]

    def with_view(self, view: str) -> PreparedExamples:
        """The same people, setups and demonstrations in another view (the draw does not depend on the form)."""
        return PreparedExamples(
            self.catalog,
            self.rows,
            self.train,
            self.setups,
            view,
            self.people,
            self.demo_rule,
            self.demos,
            self.shown,
            self.table,
        )


def prepare(
    catalog: Catalog,
    rows: np.ndarray,
    train_rows: np.ndarray,
    setups: dict[int, np.ndarray],
    demo_count: str,
    seed: int,
    view: str = "matched",
    people: str = "test",
    demo_rule: str = "setup",
    demo_questions: tuple[int, ...] | None = None,
    table: PersonTable | None = None,
    demographics_only: bool = False,
) -> PreparedExamples:
    """Draw each person's shown demonstrations once (the protocol's sampler) and bundle the examples.

    Args:
        catalog: the catalog.
        rows: evaluated catalog rows.
        train_rows: the training pool.
        setups: setup number -> probe question indices.
        demo_count: demonstrations per person and setup (a count, ``"all"`` or ``"mixed"``).
        seed: the data seed.
        view: the evaluation view.
        people: which people ``rows`` are (``"test"`` or ``"evaluation"``), for the tables' headers.
        demo_rule: ``"setup"`` or ``"probe"``.
        demo_questions: questions demonstrations may come from (None = all).
        table: a prebuilt :class:`PersonTable` of ``catalog``.
        demographics_only: the protocol shows demographic statements and no demonstrations (none are drawn).
    """
    if people not in PEOPLE:
        raise ConfigError(f"people={people!r}: use one of {PEOPLE}")
    rows = np.array(rows, dtype=np.int64)  # a copy: the examples own their rows
    if len(rows) == 0:
        raise ConfigError("no evaluation people to score: raise --data.split_size or --data.limit_eval_people")
    count = str(len(catalog.codebook.questions)) if str(demo_count) == "all" else str(demo_count)
    setups = {int(s): np.asarray(p, dtype=np.int64) for s, p in setups.items()}
    train = TrainView(
        catalog,
        np.sort(np.asarray(train_rows, dtype=np.int64)),
        setups,
        count,
        int(seed),
        id_keys(catalog.person_ids),
        demo_questions,
    )
    table = table or PersonTable(catalog)
    demos: dict[int, list[np.ndarray]] = {}
    shown: dict[int, np.ndarray] = {}
    if demo_rule == "setup":
        recipe = Recipe(
            demo_count=count, demo_questions=demo_questions, demographics="only" if demographics_only else "none"
        )
        n_q = len(catalog.codebook.questions)
        for s, probes in setups.items():
            demos[s] = [eval_demos(table, recipe, seed, int(r), s, probes)[0] for r in rows.tolist()]
            mask = np.zeros((len(rows), n_q), dtype=bool)
            for i, d in enumerate(demos[s]):
                mask[i, d] = True
            shown[s] = mask
    return PreparedExamples(catalog, rows, train, setups, view, people, demo_rule, demos, shown, table)


def given_demos(
    catalog: Catalog,
    rows: np.ndarray,
    train_rows: np.ndarray,
    setups: dict[int, np.ndarray],
    demos: dict[int, list[np.ndarray]],
    seed: int,
    demo_count: str,
    view: str = "matched",
    people: str = "test",
    table: PersonTable | None = None,
) -> PreparedExamples:
    """Examples whose shown demonstrations are given rather than drawn by the protocol's sampler (the
    answered questions of an adaptive elicitation after k asked): every predictor reads them the same way.

    Args:
        demos: setup -> per person (in ``rows`` order) the shown questions; none may be a probe of the setup.
        demo_count: what the demonstrations are, for a learning predictor's masking (e.g. ``"20"``: k asked).
        The others: as :func:`prepare`.

    Raises:
        ConfigError: a setup without demonstrations, a list per person of the wrong length, or a probe
            among a person's shown questions.
    """
    if people not in PEOPLE:
        raise ConfigError(f"people={people!r}: use one of {PEOPLE}")
    rows = np.array(rows, dtype=np.int64)
    setups = {int(s): np.asarray(p, dtype=np.int64) for s, p in setups.items()}
    train = TrainView(
        catalog,
        np.sort(np.asarray(train_rows, dtype=np.int64)),
        setups,
        str(demo_count),
        int(seed),
        id_keys(catalog.person_ids),
        None,
    )
    n_q = len(catalog.codebook.questions)
    lists: dict[int, list[np.ndarray]] = {}
    shown: dict[int, np.ndarray] = {}
    for s, probes in setups.items():
        given = demos.get(s)
        if given is None or len(given) != len(rows):
            raise ConfigError(f"setup {s}: give one list of shown questions per person ({len(rows)})")
        lists[s] = [np.asarray(d, dtype=np.int64) for d in given]
        mask = np.zeros((len(rows), n_q), dtype=bool)
        for i, d in enumerate(lists[s]):
            mask[i, d] = True
        if mask[:, probes].any():
            raise ConfigError(f"setup {s}: a probe of the setup is among the shown questions")
        shown[s] = mask
    return PreparedExamples(catalog, rows, train, setups, view, people, "setup", lists, shown, table)


def from_datamodule(
    dm: Any,
    people: str = "test",
    view: str | None = None,
    rows: np.ndarray | None = None,
    setups: list[int] | None = None,
) -> PreparedExamples:
    """The examples a set-up :class:`ivr.data.datamodule.IVRDataModule` evaluates: its test people (first
    ``limit_eval_people``), setups, seed, demonstration count, rule and allowed questions.

    Args:
        dm: the data module after ``setup_people`` / ``setup``.
        people: ``"test"`` (the module's test set) or ``"evaluation"`` (test + validation people).
        view: the view (default the module's first).
        rows: the evaluated rows when already known (e.g. the people of a reasoner's predictions).
        setups: the setup numbers scored (default all of the module's).
    """
    hp = dm.hparams
    if rows is None:
        split = dm.split
        limit = hp.limit_eval_people
        rows = (
            np.asarray(split.test_rows)[:limit]
            if people == "test"
            else np.concatenate([np.asarray(split.test_rows)[:limit], np.asarray(split.val_rows)[:limit]])
        )
    recipe = dm.eval_recipe
    chosen = range(len(dm.setups)) if setups is None else setups
    return prepare(
        dm.catalog,
        rows,
        dm.split.train_rows,
        {s: dm.setups[s] for s in chosen},
        recipe.demo_count,
        hp.seed,
        view or dm.eval_views[0],
        people,
        hp.eval_demo_rule,
        recipe.demo_questions,
        getattr(dm, "table", None),
        hp.demographics == "only",
    )
