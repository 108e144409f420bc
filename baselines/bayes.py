"""Bayes-optimal predictions of a synthetic population: the ceiling any method can reach on it.

For every (person, setup, probe form, probe) the argmax of the generator's exact posterior
(:meth:`ivr.catalog.synth.SynthModel.posterior`) given the person's demonstrations. The
demonstrations are drawn by the protocol's own sampler (:func:`ivr.protocol.examples.eval_demos`: the
same questions a reasoner is shown under the same seed, count and rule), and read in the
demonstration form the evaluation convention gives each probe form (:mod:`ivr.protocol.conventions`;
default ``matched``: polar probes with polar demonstrations, refined with refined).

It sits with the other predictors (Random, Global majority, Resemble) because it samples
demonstrations and returns metrics' ``Predictions``; the catalog layer only holds the generator and
its posterior. Library entry points (``ivr.experiment``) import this module lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.protocol.conventions import demo_form_for
from ivr.protocol.examples import PersonTable, Recipe, eval_demos
from ivr.metrics.predictions import Predictions


def bayes_predictions(
    catalog: Catalog, model: Any, rows: np.ndarray, setups: dict[int, np.ndarray], forms: list[str],
    n_demos: int | str, seed: int, demo_mask: np.ndarray | None = None, use_demographics: bool = False,
    view: str = "matched", demo_rule: str = "setup", table: PersonTable | None = None,
    demos: dict[int, list[np.ndarray]] | None = None,
) -> Predictions:
    """Most probable option under the exact posterior, for every (person, setup, form, probe).

    Args:
        catalog: the synthetic catalog.
        model: its :class:`ivr.catalog.synth.SynthModel`.
        rows: scored catalog rows.
        setups: setup number -> probe question indices.
        forms: probe forms.
        n_demos: demonstrations per person and setup (an int, or ``"mixed"``); fewer when the person has
            fewer candidates.
        seed: demonstration seed (the data module's ``seed``).
        demo_mask: bool [Q], questions allowed as demonstrations (None = all).
        use_demographics: condition on country and demographics too.
        view: evaluation view: ``matched`` (default), ``crossed``, ``polar`` or ``refined``.
        demo_rule: ``"setup"`` (exclude every probe of the setup) or ``"probe"`` (only the probed
            question: one posterior per probe, slower).
        table: a prebuilt :class:`PersonTable` of ``catalog`` (built when None).
        demos: setup -> per row the shown demonstration questions, already drawn
            (:class:`ivr.predict.PreparedExamples` ``.demos``; rule ``"setup"`` only); None = draw them here.

    Returns:
        Predictions with ``probs`` (nan beyond a question's options).
    """
    bad = [f for f in forms if f not in FORMS]
    if bad:
        raise ValueError(f"forms {bad}: use a subset of {list(FORMS)}")
    rows = np.asarray(rows, dtype=np.int64)
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
            demo_lists = [demos[s] if demos is not None else
                          [eval_demos(table, recipe, seed, int(r), s, probes)[0] for r in rows]]
        for form in forms:
            f = FORMS.index(form)
            demo_form = FORMS[demo_form_for(view, f)]
            post = np.concatenate([model.posterior(catalog, rows, d, g, form, use_demographics=use_demographics,
                                                   demo_form=demo_form) for g, d in zip(groups, demo_lists)], axis=1)
            n_opt = np.asarray(catalog.codebook.n_options(form))[probes]
            post = np.where(np.arange(post.shape[2])[None, None] < n_opt[None, :, None], post, np.nan)
            parts.append(Predictions.from_matrix(catalog, rows, s, form, probes, np.nanargmax(post, axis=2), post))
    return Predictions.concat(parts)
