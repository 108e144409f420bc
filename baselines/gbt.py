"""Gradient-boosted trees per question: the classical supervised imputer, fitted on training people only.

For every (setup, probe question, probe form) a scikit-learn ``HistGradientBoostingClassifier`` learns
the probe's answer from a person's answers in the demonstration form of that probe form. Why scikit-learn
rather than LightGBM: it treats a missing feature natively as well (each split learns where missing values
go), installs as a plain wheel beside torch (LightGBM's own OpenMP runtime is a known source of clashes
with torch's), and is deterministic under ``random_state``.

Feature rule (demonstrations vary per person): the features are the answers to every codebook question
in the demonstration form, option index as a number, and a question that is *not one of the person's
shown demonstrations* -- never shown, a probe of the setup, or unanswered -- is missing (NaN). Training
rows simulate the protocol exactly: each training person's shown questions are drawn by the protocol's
own sampler (:func:`ivr.protocol.examples.eval_demos`: same count, setup exclusion, allowed questions and
seed, keyed on that person's id), so a model sees the same pattern of missing features in training as
at prediction. At most ``train_people`` training people (a seeded choice keyed on person ids) are used. Fit and predict
run on one thread (:func:`baselines.threads.one_thread`): on 2,000 people a tree's parallel regions are
too short for a second thread to pay, and its spinning is billed as CPU time.
"""

from __future__ import annotations

import numpy as np

from baselines.threads import one_thread
from ivr.catalog.codebook import FORMS
from ivr.predict import Outputs, Predictor, PreparedExamples, ProbeOutput, TrainView
from ivr.protocol.examples import PersonTable, Recipe, eval_demos

TAG_PEOPLE = 13  # RNG stream of the training people's choice (baselines/: 11 random draw, 12 pool, 14 latent trait)


def choose_people(train: TrainView, size: int | None, tag: int) -> np.ndarray:
    """At most ``size`` training rows, a seeded choice over person-id keys (the same people in any row order)."""
    rows = train.rows[np.argsort(train.keys[train.rows], kind="stable")]
    if size is None or size >= len(rows):
        return np.sort(rows)
    rng = np.random.default_rng([train.seed, tag, size])
    return np.sort(rng.choice(rows, size=size, replace=False))


def shown_masks(train: TrainView, rows: np.ndarray) -> dict[int, np.ndarray]:
    """Per setup, bool [N, Q]: the questions the protocol's sampler would show each of ``rows``."""
    catalog = train.catalog
    count = str(len(catalog.codebook.questions)) if train.demo_count == "all" else str(train.demo_count)
    recipe, table = Recipe(demo_count=count, demo_questions=train.demo_questions), PersonTable(catalog)
    out = {}
    for s, probes in train.setups.items():
        mask = np.zeros((len(rows), len(catalog.codebook.questions)), dtype=bool)
        for i, r in enumerate(rows.tolist()):
            mask[i, eval_demos(table, recipe, train.seed, r, s, probes)[0]] = True
        out[s] = mask
    return out


def varying(x: np.ndarray) -> np.ndarray:
    """bool [Q]: columns of ``x`` with at least two distinct non-missing values (the only ones a split can use)."""
    nan = np.isnan(x)
    return np.where(nan, -np.inf, x).max(axis=0) > np.where(nan, np.inf, x).min(axis=0)


def features(answers: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """float32 [N, Q]: shown valid answers as numbers, NaN elsewhere (the feature rule)."""
    return np.where(shown & (answers >= 0), answers, np.nan).astype(np.float32)


class GradientBoosting(Predictor):
    """Gradient-boosted trees per (setup, probe question, probe form) on the shown answers.

    Args:
        train_people: training people used at most (seeded choice).
        max_iter, learning_rate, max_leaf_nodes: the boosting's settings.
        demo_forms: the (probe form, demonstration form) pairs to fit (default: the matched view's).
    """

    name = "Gradient-boosted trees (per question)"

    def __init__(
        self, train_people: int | None = 2000, max_iter: int = 40, learning_rate: float = 0.15, max_leaf_nodes: int = 15
    ) -> None:
        self.train_people, self.max_iter = train_people, max_iter
        self.learning_rate, self.max_leaf_nodes = learning_rate, max_leaf_nodes
        self.models: dict[tuple[int, int, str, str], tuple[np.ndarray, object | None, np.ndarray]] = {}

    def fit(self, train: TrainView) -> None:
        self.train = train
        self.rows = choose_people(train, self.train_people, TAG_PEOPLE)
        self.shown = shown_masks(train, self.rows)
        with one_thread():
            for form in FORMS:  # the matched view's pairs; another view's are fitted when first asked
                self._fit_pairs(form, form)

    def _fit_pairs(self, form: str, demo_form: str) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        catalog = self.train.catalog
        x_all = catalog.answers(demo_form)[self.rows]
        y_all = catalog.answers(form)[self.rows]
        for s, probes in self.train.setups.items():
            x = features(x_all, self.shown[s])
            for q in probes.tolist():
                if (s, q, form, demo_form) in self.models:
                    continue
                ok = y_all[:, q] >= 0
                y = y_all[ok, q].astype(np.int64)
                classes = np.unique(y)
                if len(classes) < 2:  # one answer in the training people: predict it
                    self.models[(s, q, form, demo_form)] = (classes, None, np.zeros(0, np.int64))
                    continue
                cols = np.flatnonzero(varying(x[ok]))  # constant columns carry nothing (and trip the binner)
                model = HistGradientBoostingClassifier(
                    max_iter=self.max_iter,
                    learning_rate=self.learning_rate,
                    max_leaf_nodes=self.max_leaf_nodes,
                    early_stopping=False,
                    random_state=self.train.seed,
                )
                if len(cols):
                    model.fit(x[np.ix_(ok, cols)], y)
                    self.models[(s, q, form, demo_form)] = (model.classes_.astype(np.int64), model, cols)
                else:  # nothing shown varies: the training shares
                    shares = np.bincount(y, minlength=int(classes.max()) + 1)[classes] / len(y)
                    self.models[(s, q, form, demo_form)] = (classes, shares, cols)

    def predict_proba(self, examples: PreparedExamples) -> Outputs:
        with one_thread():
            return self._predict(examples)

    def _predict(self, examples: PreparedExamples) -> Outputs:
        out = {}
        catalog = examples.catalog
        for s, form in examples.pairs():
            demo_form = examples.demo_form(form)
            self._fit_pairs(form, demo_form)
            x = features(examples.shown_answers(s, form), np.ones(examples.shown[s].shape, dtype=bool))
            probes = examples.setups[s]
            n_opt = np.asarray(catalog.codebook.n_options(form))[probes]
            probs = np.zeros((examples.n_people, len(probes), int(n_opt.max())))
            for k, q in enumerate(probes.tolist()):
                classes, model, cols = self.models[(s, q, form, demo_form)]
                if model is None or isinstance(model, np.ndarray):
                    probs[:, k, classes] = 1.0 if model is None else model[None]
                else:
                    probs[:, k, classes] = model.predict_proba(x[:, cols])
            probs[:, np.arange(probs.shape[2])[None] >= n_opt[:, None]] = np.nan
            out[(s, form)] = ProbeOutput(probs)
        return out

    def describe(self) -> dict[str, object]:
        return {
            "train_people": self.train_people,
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
        }
