"""The synthetic population's exact Bayes posterior: one module for every place that uses it.

A synthetic catalog folder holds the generator's model (``synth_model.npz``,
:class:`ivr.catalog.synth.SynthModel`): each person is one of K latent profiles, and given the answers a
person shows, the posterior over profiles -- and with it the predictive of any question -- is exact.
Predicting its most probable option is the best any method can do on that population (the *Bayes
ceiling*). Everything that uses this posterior lives here:

* :func:`load_model` -- the catalog's model (one error naming the fix on a real catalog);
* :func:`posterior_matrix` -- the posterior predictive of the probes given each person's shown
  questions, nan beyond a question's options (the one computation every Bayes row runs);
* :func:`bayes_predictions` / :func:`posterior_outputs` / :class:`BayesCeiling` -- the ceiling (and any
  other model with the same ``posterior``: latent classes, the profile oracle) as a table row, given the
  protocol's shown demonstrations of :class:`ivr.predict.PreparedExamples`;
* :class:`BayesPosterior` -- the same posterior updated one answer at a time (the elicitation's
  ``bayes-eig`` policy, its stopping rules and the live interview).

Demonstrations are read in the form the evaluation view gives each probe form
(:mod:`ivr.protocol.conventions`; default ``matched``: polar probes with polar answers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.errors import ConfigError
from ivr.metrics.predictions import Predictions
from ivr.predict.base import Predictor
from ivr.predict.examples import PreparedExamples
from ivr.protocol.conventions import demo_form_for
from ivr.protocol.examples import PersonTable, Recipe, eval_demos

CEILING = "Bayes ceiling (exact posterior)"
PROFILE_ORACLE = "Profile oracle (training counts)"


def load_model(catalog_dir: str | Path, what: str = "the Bayes predictor") -> Any:
    """The :class:`ivr.catalog.synth.SynthModel` stored beside a synthetic catalog.

    Args:
        catalog_dir: the catalog folder.
        what: what needs it (the flag or setting), named in the error.

    Raises:
        ConfigError: the catalog is not synthetic (names ``what`` and the alternatives).
    """
    from ivr.catalog.synth import SynthModel

    try:
        return SynthModel.load(catalog_dir)
    except FileNotFoundError as err:
        raise ConfigError(
            f"{what}: {err}. It needs a synthetic catalog ('synthetic:people=N,seed=S'); for a real "
            "catalog use a trained reasoner, model predictions or the statistical baselines "
            "instead"
        ) from err


def posterior_matrix(
    catalog: Catalog,
    model: Any,
    rows: np.ndarray,
    shown: list[np.ndarray],
    probes: np.ndarray,
    form: str,
    view: str = "matched",
    use_demographics: bool = False,
) -> np.ndarray:
    """float [E, K, O] the posterior predictive of ``probes`` in ``form`` given each person's ``shown``
    questions (read in the demonstration form ``view`` gives ``form``), nan beyond a question's options."""
    demo_form = FORMS[demo_form_for(view, FORMS.index(form))]
    post = model.posterior(catalog, rows, shown, probes, form, use_demographics=use_demographics, demo_form=demo_form)
    n_opt = np.asarray(catalog.codebook.n_options(form))[probes]
    return np.where(np.arange(post.shape[2])[None, None] < n_opt[None, :, None], post, np.nan)


def bayes_predictions(
    catalog: Catalog,
    model: Any,
    rows: np.ndarray,
    setups: dict[int, np.ndarray],
    forms: list[str],
    n_demos: int | str,
    seed: int,
    demo_mask: np.ndarray | None = None,
    use_demographics: bool = False,
    view: str = "matched",
    demo_rule: str = "setup",
    table: PersonTable | None = None,
    demos: dict[int, list[np.ndarray]] | None = None,
) -> Predictions:
    """Most probable option under the exact posterior, for every (person, setup, form, probe).

    Args:
        catalog: the synthetic catalog.
        model: its :class:`ivr.catalog.synth.SynthModel` (or any model with the same ``posterior``).
        rows: scored catalog rows.
        setups: setup number -> probe question indices.
        forms: probe forms.
        n_demos: demonstrations per person and setup (an int, or ``"mixed"``); fewer when the person has
            fewer candidates. Unused when ``demos`` are given.
        seed: demonstration seed (the data module's ``seed``).
        demo_mask: bool [Q], questions allowed as demonstrations (None = all).
        use_demographics: condition on country and demographics too.
        view: evaluation view: ``matched`` (default), ``crossed``, ``polar`` or ``refined``.
        demo_rule: ``"setup"`` (exclude every probe of the setup) or ``"probe"`` (only the probed
            question: one posterior per probe, slower).
        table: a prebuilt :class:`PersonTable` of ``catalog`` (built when None).
        demos: setup -> per row the shown demonstration questions, already drawn
            (:class:`ivr.predict.PreparedExamples` ``.demos``; rule ``"setup"`` only); None = draw them with
            the protocol's sampler (:func:`ivr.protocol.examples.eval_demos`).

    Returns:
        Predictions with ``probs`` (nan beyond a question's options).
    """
    bad = [f for f in forms if f not in FORMS]
    if bad:
        raise ValueError(f"forms {bad}: use a subset of {list(FORMS)}")
    rows = np.asarray(rows, dtype=np.int64)
    if demos is None or demo_rule == "probe":
        table = table or PersonTable(catalog)
        allowed = None if demo_mask is None else tuple(np.flatnonzero(np.asarray(demo_mask, dtype=bool)).tolist())
        recipe = Recipe(demo_count=str(n_demos), demo_questions=allowed, demo_rule=demo_rule)
    parts = []
    for s, probes in setups.items():
        probes = np.asarray(probes, dtype=np.int64)
        if demo_rule == "probe":
            groups = [np.array([q]) for q in probes]
            demo_lists = [[eval_demos(table, recipe, seed, int(r), s, probes, int(q))[0] for r in rows] for q in probes]
        else:
            groups = [probes]
            demo_lists = [
                demos[s] if demos is not None else [eval_demos(table, recipe, seed, int(r), s, probes)[0] for r in rows]
            ]
        for form in forms:
            post = np.concatenate(
                [
                    posterior_matrix(catalog, model, rows, d, g, form, view, use_demographics)
                    for g, d in zip(groups, demo_lists)
                ],
                axis=1,
            )
            parts.append(Predictions.from_matrix(catalog, rows, s, form, probes, np.nanargmax(post, axis=2), post))
    return Predictions.concat(parts)


def posterior_outputs(
    model: Any, examples: PreparedExamples, use_demographics: bool = False, forms: list[str] | None = None
) -> Predictions:
    """The posterior predictive of ``model`` (the generator, latent classes, the profile oracle) given each
    person's shown demonstrations of ``examples`` (``forms``: the probe forms, default both)."""
    demo_rule = examples.demo_rule
    allowed = examples.train.demo_questions
    mask = None
    if allowed is not None:
        mask = np.zeros(len(examples.catalog.codebook.questions), dtype=bool)
        mask[list(allowed)] = True
    return bayes_predictions(
        examples.catalog,
        model,
        examples.rows,
        examples.setups,
        list(forms or FORMS),
        examples.demo_count,
        examples.seed,
        demo_mask=mask,
        use_demographics=use_demographics,
        view=examples.view,
        demo_rule=demo_rule,
        table=examples.table,
        demos=examples.demos if demo_rule == "setup" else None,
    )


class BayesCeiling(Predictor):
    """The generator's exact posterior given the shown demonstrations (a synthetic catalog's ceiling).

    Args:
        model: the catalog's :class:`ivr.catalog.synth.SynthModel` (:func:`load_model`).
        use_demographics: condition on the person's country and demographics too.
        name: the row name (default :data:`CEILING`).
        forms: probe forms predicted (default both).
    """

    name = CEILING

    def __init__(
        self, model: Any, use_demographics: bool = False, name: str | None = None, forms: list[str] | None = None
    ) -> None:
        self.model, self.use_demographics, self.forms = model, use_demographics, forms
        self.name = name or CEILING

    def predict_proba(self, examples: PreparedExamples) -> Predictions:
        return posterior_outputs(self.model, examples, self.use_demographics, self.forms)

    def describe(self) -> dict[str, Any]:
        return {"demographics": self.use_demographics}


def normalise(log_post: np.ndarray) -> np.ndarray:
    """Posterior weights [N, K] from unnormalised log posteriors."""
    w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


class BayesPosterior:
    """Exact refined-answer posteriors of simulated or live people, updated one answer at a time.

    Each person is an :class:`ivr.elicit.state.PersonState` (``asked``, ``answers``, ``scratch``); the
    log posterior over profiles is kept in its scratch and only new answers are added to it.

    Args:
        model: the catalog's :class:`ivr.catalog.synth.SynthModel`.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.probs = model.option_probs("refined")  # [K, Q, O]
        self.log_probs = np.log(np.maximum(self.probs, 1e-300))
        prior = model.prior_logits(None, None)[0]
        self.prior = prior - np.logaddexp.reduce(prior)
        self._key = ("bayes", id(self))  # this posterior's entry in each state's scratch

    def log_posterior(self, state: Any) -> np.ndarray:
        """float64 [K] log posterior of ``state`` (cached; only new answers are added)."""
        seen, lp = state.scratch.get(self._key, (0, self.prior))
        if seen != len(state.asked):
            lp = lp.copy()
            for q, a in zip(state.asked[seen:], state.answers[seen:]):
                if a >= 0:
                    lp += self.log_probs[:, q, a]
            state.scratch[self._key] = (len(state.asked), lp)
        return lp

    def weights(self, states: list[Any]) -> np.ndarray:
        return normalise(np.stack([self.log_posterior(s) for s in states]))

    def predictive(self, states: list[Any], questions: np.ndarray, form: str) -> np.ndarray:
        """float [N, M, O]: P(option | answers so far) of ``questions`` in ``form``."""
        w = self.weights(states)
        pred = np.einsum("nk,kmo->nmo", w, self.model.option_probs(form)[:, np.asarray(questions)])
        return pred / pred.sum(axis=2, keepdims=True)
