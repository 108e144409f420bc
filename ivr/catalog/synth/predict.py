"""Exact Bayes-optimal predictions of a synthetic population under the evaluation protocol.

The argmax of :meth:`SynthModel.posterior` for every (person, setup, form, probe), with the person's
demonstrations drawn by the protocol's own sampler (excluding the setup's probes), so the figures are
the ceiling any method can reach on that population.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ivr.errors import ConfigError
from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.data.sampling import sample_demos
from ivr.metrics.predictions import Predictions


def bayes_predictions(
    catalog: Catalog, model: Any, rows: np.ndarray, setups: dict[int, np.ndarray], forms: list[str],
    n_demos: int, seed: int, demo_mask: np.ndarray | None = None, use_demographics: bool = False,
    demo_form: str = "polar", epoch: int = 0,
) -> Predictions:
    """Most probable option under the exact posterior, for every (person, setup, form, probe).

    Args:
        catalog: the synthetic catalog.
        model: its :class:`SynthModel`.
        rows: scored catalog rows.
        setups: setup number -> probe question indices.
        forms: probe forms.
        n_demos: demonstrations per person (fewer when the person has fewer candidates).
        seed: demonstration seed.
        demo_mask: bool [Q], questions allowed as demonstrations (None = all).
        use_demographics: condition on country and demographics too.
        demo_form: form the demonstrations are read in.
        epoch: demonstration draw (0 = the evaluation draw).

    Returns:
        Predictions with ``probs`` (padded to 8 options with nan).
    """
    if demo_form not in FORMS:
        raise ConfigError(f"demo_form {demo_form!r}; use one of {list(FORMS)}")
    rows = np.asarray(rows, dtype=np.int64)
    valid_all = catalog.answers(demo_form) >= 0
    parts = []
    for s, probes in setups.items():
        demos = []
        for r in rows:
            valid = valid_all[r] if demo_mask is None else valid_all[r] & demo_mask
            demos.append(sample_demos(valid, probes, n_demos, seed, _person_key(catalog.person_ids[r]), s, epoch))
        for form in forms:
            post = model.posterior(catalog, rows, demos, probes, form, use_demographics=use_demographics,
                                   demo_form=demo_form)
            n_opt = np.asarray(catalog.codebook.n_options(form))[probes]
            post = np.where(np.arange(post.shape[2])[None, None] < n_opt[None, :, None], post, np.nan)
            parts.append(Predictions.from_matrix(catalog, rows, s, form, probes, np.nanargmax(post, axis=2), post))
    return Predictions.concat(parts)


def _person_key(pid: Any) -> int | str:
    """A person id as the sampler's key (ints stay ints, anything else its string)."""
    return int(pid) if isinstance(pid, (int, np.integer)) else str(pid)
