"""The statistical rows of every table as :class:`ivr.predict.Predictor` s.

Global majority, the seeded Random draw, Resemble (top 1 / top cluster of a pool; one neighbour search
serves both rows and the N sweep), latent classes, the Bayes ceiling and the profile oracle of a
synthetic population (the ceiling and the posterior every one of these three reads:
:mod:`ivr.predict.bayes`); the classical imputers are in :mod:`baselines.gbt` and :mod:`baselines.latent_trait`.
Each reads an evaluated person only through ``examples.shown_answers`` / ``examples.demos`` (the study's
Resemble, ``features="non_probe"``, reads every answer outside the setup's probes and says so in
``reads``). :func:`standard_predictors` is the list the commands run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from baselines.majority import majority_table
from ivr.catalog.codebook import FORMS
from ivr.predict import Outputs, Predictor, PreparedExamples, ProbeOutput, TrainView
from ivr.predict.bayes import CEILING, PROFILE_ORACLE, BayesCeiling, posterior_outputs  # noqa: F401 - the rows of every table
from ivr.protocol.conventions import row_name

GLOBAL = "Global (majority vote)"
RANDOM_DRAW = "Random (seeded draw)"


def resemble_name(pool: str, kind: str, view: str = "matched", views: tuple[str, ...] = ("matched",)) -> str:
    """Table-3 row name, e.g. ``Resemble (1600, top cluster)`` (``... [crossed]`` for a second view)."""
    return row_name(f"Resemble ({pool}, {kind})", view, views)


def latent_class_name(n_classes: int) -> str:
    """The table row of the latent class baseline."""
    return f"Latent classes ({n_classes}, EM)"


def _frequencies(catalog: Any, rows: np.ndarray, form: str, probes: np.ndarray) -> np.ndarray:
    """float [K, O] the training people's option shares per probe (nan beyond its options)."""
    n_opt = np.asarray(catalog.codebook.n_options(form))[probes]
    width = int(n_opt.max())
    ans = catalog.answers(form)[np.ix_(rows, probes)].astype(np.int64)
    counts = (ans[..., None] == np.arange(width)).sum(axis=0).astype(np.float64)
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return np.where(np.arange(width)[None] < n_opt[:, None], probs, np.nan)


class GlobalMajority(Predictor):
    """The training people's most common valid answer per probe (lowest option on ties), with their
    answer shares as probabilities; reads nothing of the evaluated person."""

    name = GLOBAL
    view_free = True

    def fit(self, train: TrainView) -> None:
        self.train = train
        probed = np.concatenate(list(train.setups.values()))
        self.table = {f: majority_table(train.catalog, train.rows, f, probed) for f in FORMS}

    def predict_proba(self, examples: PreparedExamples) -> Outputs:
        out = {}
        for s, form in examples.pairs():
            probes = examples.setups[s]
            probs = _frequencies(examples.catalog, self.train.rows, form, probes)
            e = examples.n_people
            out[(s, form)] = ProbeOutput(
                np.broadcast_to(probs[None], (e, *probs.shape)),
                np.broadcast_to(self.table[form][probes][None], (e, len(probes))),
            )
        return out


class RandomDraw(Predictor):
    """A seeded uniform draw per (person, probe) (:func:`baselines.random.random_draw`)."""

    name = RANDOM_DRAW
    view_free = True

    def predict_proba(self, examples: PreparedExamples) -> Any:
        from baselines.random import random_draw

        return random_draw(examples.catalog, examples.rows, examples.setups, examples.seed)


class ResembleSearch:
    """One pool's neighbour search, shared by its top-1 and top-cluster rows and the N sweep.

    Args:
        pool: ``"all"`` (every training person) or a size such as ``"1600"`` (a seeded sample).
        max_n: the largest cluster size voted.
        features: ``"non_probe"`` (the study: every non-probe question) or ``"shown"`` (the shown
            demonstrations only).
        use_gpu, threads, progress: the FAISS search's settings and a progress bar.
    """

    def __init__(
        self,
        pool: str = "all",
        max_n: int = 35,
        features: str = "non_probe",
        use_gpu: bool | None = None,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.pool, self.max_n, self.features = pool, max_n, features
        self.use_gpu, self.threads, self.progress = use_gpu, threads, progress
        self.pool_rows: np.ndarray | None = None
        self._votes: dict[tuple[str, int], Any] = {}

    def fit(self, train: TrainView) -> None:
        from baselines.resemble import sample_pool

        if self.pool_rows is None:
            self.pool_rows = sample_pool(
                train.rows, None if self.pool == "all" else int(self.pool), train.seed, train.keys
            )

    def votes(self, examples: PreparedExamples) -> Any:
        """The :class:`baselines.resemble.ResembleVotes` of these examples (searched once per examples)."""
        key = (examples.view, id(examples))  # the examples are held below, so their id is not reused
        if key not in self._votes:
            from baselines.resemble import resemble_votes

            shown = examples.shown if self.features == "shown" else None
            self._votes[key] = (
                examples,
                resemble_votes(
                    examples.catalog,
                    examples.rows,
                    self.pool_rows,
                    examples.setups,
                    self.max_n,
                    use_gpu=self.use_gpu,
                    progress=self.progress,
                    label=self.pool,
                    threads=self.threads,
                    view=examples.view,
                    shown=shown,
                    seed=examples.seed,
                ),
            )
        return self._votes[key][1]

    def votes_of(self, view: str) -> Any:
        """The votes last searched for ``view`` (the N sweep reads them)."""
        return next(v for (w, _), (_, v) in reversed(list(self._votes.items())) if w == view)


class Resemble(Predictor):
    """The ``n`` nearest training people's vote (ties to the option the nearer neighbour voted first),
    with their vote shares as probabilities."""

    def __init__(self, search: ResembleSearch, n: int, kind: str) -> None:
        self.search, self.n, self.kind = search, n, kind
        self.name = resemble_name(search.pool, kind)
        self.reads = "shown" if search.features == "shown" else "non_probe"

    def fit(self, train: TrainView) -> None:
        self.search.fit(train)

    def predict_proba(self, examples: PreparedExamples) -> Outputs:
        votes = self.search.votes(examples)
        return {
            (s, form): ProbeOutput(votes.shares(examples.catalog, s, form, self.n), votes.votes[(s, form)][self.n - 1])
            for s, form in examples.pairs()
        }


class LatentClass(Predictor):
    """Latent class analysis (:mod:`baselines.latent_class`): EM on the training people's refined answers,
    each person's class posterior from their shown demonstrations."""

    def __init__(self, n_classes: int, progress: bool = False) -> None:
        self.n_classes, self.progress = n_classes, progress
        self.name = latent_class_name(n_classes)

    def fit(self, train: TrainView) -> None:
        from baselines.latent_class import fit_latent_class
        from baselines.threads import one_thread

        with one_thread():
            self.model = fit_latent_class(
                train.catalog, train.rows, self.n_classes, seed=train.seed, progress_bar=self.progress
            )

    def predict_proba(self, examples: PreparedExamples) -> Any:
        from baselines.threads import one_thread

        with one_thread():
            return posterior_outputs(self.model, examples)


class ProfileOracle(Predictor):
    """The generator's profiles with their probabilities counted from the training people
    (:func:`baselines.latent_class.profile_oracle_model`)."""

    name = PROFILE_ORACLE

    def __init__(self, truth: Any) -> None:
        self.truth = truth

    def fit(self, train: TrainView) -> None:
        from baselines.latent_class import profile_oracle_model

        self.model = profile_oracle_model(train.catalog, self.truth, train.rows)

    def predict_proba(self, examples: PreparedExamples) -> Any:
        return posterior_outputs(self.model, examples)


def resemble_rows(
    pools: tuple[str, ...],
    max_n: int,
    n_cluster: int,
    features: str,
    **search: Any,
) -> tuple[list[Predictor], dict[str, ResembleSearch]]:
    """The top-1 and top-cluster rows of each pool, and the searches (for the N sweep)."""
    rows: list[Predictor] = []
    searches = {}
    for pool in pools:
        searches[pool] = ResembleSearch(pool, max_n, features, **search)
        rows += [Resemble(searches[pool], 1, "top 1"), Resemble(searches[pool], n_cluster, "top cluster")]
    return rows, searches


def imputer_rows(
    latent_classes: int = 0, gbt: bool = True, latent_trait: bool = True, progress: bool = False
) -> list[Predictor]:
    """The classical imputers: gradient-boosted trees per question, the low-rank latent-trait model and
    (with ``latent_classes`` > 0) latent classes."""
    rows: list[Predictor] = []
    if gbt:
        from baselines.gbt import GradientBoosting

        rows.append(GradientBoosting())
    if latent_trait:
        from baselines.latent_trait import LatentTrait

        rows.append(LatentTrait())
    if latent_classes:
        rows.append(LatentClass(latent_classes, progress))
    return rows
