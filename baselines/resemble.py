"""Resemble baselines: predict a person's probe answers from the training people most like them.

For each (setup, probe form) the eval person is compared with every person of the pool **in the
demonstration form** of the evaluation view (:mod:`ivr.protocol.conventions`; default ``matched``: polar
one-hots for polar probes, refined for refined), over one of two feature sets:

* ``features="non_probe"`` (default, the study's code): every question that is not a probe of the
  setup (214 for WVS-7, although Table 3 is labelled "200 demonstrations");
* ``features="shown"``: only the person's shown demonstrations, drawn by the protocol's sampler
  (:func:`ivr.protocol.examples.eval_demos`, the same questions a reasoner sees), for
  demonstration-count curves.

Similarity = the number of compared questions both answered with the same option (inner product of
one-hot answers; a missing answer matches nothing). Neighbours are ranked by similarity, ties by a
seeded random order keyed on person ids (:mod:`baselines.neighbours`), and the ``n`` nearest vote on
each probe (:mod:`baselines.voting`): *top 1* is ``n = 1`` and *top cluster* is ``n = n_cluster``;
all ``n = 1..max_n`` are computed at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from baselines.encode import PackedAnswers, setup_blocks, setup_codes
from baselines.majority import majority_table
from baselines.neighbours import TieKeys, top_neighbours
from baselines.voting import vote_all_sizes
from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.metrics.predictions import Predictions
from ivr.progress import progress as progress_iter
from ivr.protocol.conventions import demo_form_for
from ivr.protocol.sampling import id_keys

FEATURES = ("non_probe", "shown")

TAG_POOL = 12  # RNG stream tag of the random training pool


def sample_pool(train_rows: np.ndarray, size: int | None, seed: int, keys: np.ndarray | None = None) -> np.ndarray:
    """A seeded random pool of training rows, returned in catalog order (``None`` = all of them).

    Args:
        train_rows: the training rows.
        size: pool size, or None for all.
        seed: the seed.
        keys: uint64 person-id keys of every catalog row (:func:`ivr.protocol.sampling.id_keys`): the draw
            is then made over people in key order, so the pool is the same people whatever the
            catalog's row order. None = over rows in catalog order.

    Raises:
        ValueError: the pool asked for is larger than the training set.
    """
    train_rows = np.sort(np.asarray(train_rows, dtype=np.int64))
    if size is None:
        return train_rows
    if size < 1 or size > len(train_rows):
        raise ValueError(
            f"pool size {size} must be between 1 and the {len(train_rows)} training people; "
            "use --pools all or a smaller pool"
        )
    ordered = train_rows if keys is None else train_rows[np.argsort(keys[train_rows], kind="stable")]
    rng = np.random.default_rng([seed, TAG_POOL, size])
    return np.sort(rng.choice(ordered, size=size, replace=False))


def pack_forms(
    catalog: Catalog, setups: dict[int, np.ndarray], forms: Iterable[str] = FORMS
) -> dict[str, PackedAnswers]:
    """Packed one-hot answers of the whole catalog per form (built once, shared by pools/setups/views)."""
    blocks = setup_blocks(len(catalog.codebook.questions), list(setups.values()))
    return {f: PackedAnswers.from_answers(catalog.answers(f), catalog.codebook.n_options(f), blocks) for f in forms}


@dataclass
class ResembleVotes:
    """Cluster votes of one pool for every (setup, form) and every cluster size.

    Attributes:
        eval_rows: evaluation catalog rows.
        setups: setup number -> probe question indices.
        votes: ``(setup, form)`` -> int8 [max_n, E, K] predicted option per cluster size.
        top_agreement: ``(setup, form)`` -> int [E] similarity of each person's nearest neighbour.
        labels: ``(setup, form)`` -> int8 [E, max_n, K] the ranked neighbours' answers (-1 = not answered).
        fallback: ``(setup, form)`` -> int8 [K] the pool majority used where no neighbour voted.
    """

    eval_rows: np.ndarray
    setups: dict[int, np.ndarray]
    votes: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    top_agreement: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    labels: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    fallback: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    def shares(self, catalog: Catalog, setup: int, form: str, n: int) -> np.ndarray:
        """float [E, K, O] each option's share of the ``n`` nearest neighbours' valid votes (the pool
        majority's one-hot where none voted; nan beyond a question's options)."""
        labels = self.labels[(setup, form)][:, :n, :].astype(np.int64)
        n_opt = np.asarray(catalog.codebook.n_options(form))[self.setups[setup]]
        width = int(n_opt.max())
        counts = (labels[..., None] == np.arange(width)).sum(axis=1).astype(np.float64)  # [E, K, O]
        total = counts.sum(axis=2, keepdims=True)
        fallback = np.eye(width)[np.asarray(self.fallback[(setup, form)], dtype=np.int64)][None]
        probs = np.where(total > 0, counts / np.maximum(total, 1), fallback)
        return np.where(np.arange(width)[None, None] < n_opt[None, :, None], probs, np.nan)

    @property
    def max_n(self) -> int:
        return next(iter(self.votes.values())).shape[0]

    def predictions(self, catalog: Catalog, n: int) -> Predictions:
        """Predictions of the ``n``-neighbour vote over all setups and forms."""
        if not 1 <= n <= self.max_n:
            raise ValueError(f"cluster size {n} outside 1..{self.max_n} (raise --max-n)")
        return Predictions.concat(
            [
                Predictions.from_matrix(catalog, self.eval_rows, s, form, self.setups[s], v[n - 1])
                for (s, form), v in self.votes.items()
            ]
        )


def non_probe_questions(n_questions: int, probes: np.ndarray) -> np.ndarray:
    """Question indices compared for a setup: every question that is not one of its probes."""
    features = np.setdiff1d(np.arange(n_questions), probes)
    if len(features) == 0:
        raise ValueError("every question is a probe question: no questions left to compare people on")
    return features


def shown_questions(
    catalog: Catalog, eval_rows: np.ndarray, setups: dict[int, np.ndarray], demo_count: str, seed: int
) -> dict[int, np.ndarray]:
    """Per setup, bool [E, Q]: the questions each eval person is shown as demonstrations.

    The protocol's draw (:func:`ivr.protocol.examples.eval_demos`, rule ``"setup"``, ``demo_count``
    demonstrations, the data ``seed``), so Resemble compares people on what a reasoner sees.
    """
    from ivr.protocol.examples import PersonTable, Recipe, eval_demos

    table = PersonTable(catalog)
    recipe = Recipe(demo_count=str(demo_count))
    out = {}
    for s, probes in setups.items():
        mask = np.zeros((len(eval_rows), len(catalog.codebook.questions)), dtype=bool)
        for i, r in enumerate(np.asarray(eval_rows).tolist()):
            mask[i, eval_demos(table, recipe, seed, r, s, probes)[0]] = True
        out[s] = mask
    return out


def resemble_votes(
    catalog: Catalog,
    eval_rows: np.ndarray,
    pool_rows: np.ndarray,
    setups: dict[int, np.ndarray],
    max_n: int,
    forms: Iterable[str] = FORMS,
    packed: dict[str, PackedAnswers] | None = None,
    use_gpu: bool | None = None,
    progress: bool = True,
    label: str = "",
    threads: int | None = None,
    view: str = "matched",
    shown: dict[int, np.ndarray] | None = None,
    seed: int = 0,
) -> ResembleVotes:
    """Nearest-neighbour votes for every setup, probe form and cluster size 1..max_n.

    Args:
        catalog: the catalog.
        eval_rows: people to predict (must not be in the pool).
        pool_rows: candidate neighbours.
        setups: setup number -> probe question indices.
        max_n: the largest cluster size.
        forms: probe forms to predict.
        packed: pre-packed answers per form (from :func:`pack_forms` with these setups; both forms
            when the view crosses them).
        use_gpu: GPU index on/off; None = when available.
        progress: show a progress bar over (setup, form).
        label: progress bar label.
        threads: CPU search threads (default: the cores available).
        view: evaluation view: people are compared in the demonstration form it gives each probe form.
        shown: per setup, bool [E, Q] questions each eval person is shown (:func:`shown_questions`):
            compare on those only; None = every non-probe question.
        seed: seed of the tie-breaking order (keyed on person ids).

    Returns:
        The votes.

    Raises:
        ValueError: ``max_n`` larger than the pool, eval people inside the pool, or a probe
            question nobody in the pool answered.
    """
    eval_rows = np.asarray(eval_rows, dtype=np.int64)
    pool_rows = np.asarray(pool_rows, dtype=np.int64)
    if max_n > len(pool_rows):
        raise ValueError(f"--max-n {max_n} is larger than the pool of {len(pool_rows)} people")
    if np.isin(eval_rows, pool_rows).any():
        raise ValueError("evaluation people must not be part of the neighbour pool")
    forms = tuple(forms)
    feature_forms = {f: FORMS[demo_form_for(view, FORMS.index(f))] for f in forms}
    packed = packed or pack_forms(catalog, setups, sorted(set(feature_forms.values())))
    keys = id_keys(catalog.person_ids)
    ties = TieKeys(keys[eval_rows], keys[pool_rows], seed)
    n_q = len(catalog.codebook.questions)
    result = ResembleVotes(eval_rows, dict(setups))
    jobs = [(s, f) for f in forms for s in setups]
    probed = np.concatenate([np.asarray(p) for p in setups.values()])
    majority = {f: majority_table(catalog, pool_rows, f, probed) for f in forms}
    for s, form in progress_iter(jobs, f"resemble {label}".strip(), unit="setups", enabled=progress):
        probes = np.asarray(setups[s], dtype=np.int64)
        fallback = majority[form][probes]
        mask = None if shown is None else shown[s]
        codes = setup_codes(
            packed[feature_forms[form]], eval_rows, pool_rows, non_probe_questions(n_q, probes), query_mask=mask
        )
        agreement, idx = top_neighbours(codes, max_n, use_gpu=use_gpu, threads=threads, ties=ties)
        labels = catalog.answers(form)[np.ix_(pool_rows, probes)][idx]  # [E, N, K]
        width = int(np.asarray(catalog.codebook.n_options(form))[probes].max())
        result.votes[(s, form)] = vote_all_sizes(labels, width, fallback)
        result.top_agreement[(s, form)] = agreement[:, 0]
        result.labels[(s, form)] = labels.astype(np.int8)
        result.fallback[(s, form)] = np.asarray(fallback, dtype=np.int8)
    return result
