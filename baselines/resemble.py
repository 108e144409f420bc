"""Resemble baselines: predict a person's probe answers from the training people most like them.

For each (setup, form) the eval person is compared with every person of the pool over the setup's
*non-probe* questions (the study's matrix version likewise uses all 214 non-probe questions of the
WVS codebook, although Table 3 is labelled "200 demonstrations"): similarity = the number of those
questions both answered with the same option (inner product of one-hot answers; a missing answer
matches nothing). Neighbours are ranked by similarity, ties by lower catalog row
(:mod:`baselines.neighbours`), and the ``n`` nearest vote on each probe (:mod:`baselines.voting`):
*top 1* is ``n = 1`` and *top cluster* is ``n = n_cluster``; all ``n = 1..max_n`` are computed at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from baselines.encode import PackedAnswers, setup_blocks, setup_codes
from baselines.majority import majority_table
from baselines.neighbours import top_neighbours
from baselines.voting import vote_all_sizes
from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.metrics.predictions import Predictions

TAG_POOL = 12  # RNG stream tag of the random training pool


def sample_pool(train_rows: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """A seeded random pool of training rows, kept in catalog order (``None`` = all of them).

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
    rng = np.random.default_rng([seed, TAG_POOL, size])
    return np.sort(rng.choice(train_rows, size=size, replace=False))


def pack_forms(
    catalog: Catalog, setups: dict[int, np.ndarray], forms: Iterable[str] = FORMS
) -> dict[str, PackedAnswers]:
    """Packed one-hot answers of the whole catalog per form (built once, shared by pools/setups)."""
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
    """

    eval_rows: np.ndarray
    setups: dict[int, np.ndarray]
    votes: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    top_agreement: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    @property
    def max_n(self) -> int:
        return next(iter(self.votes.values())).shape[0]

    def predictions(self, catalog: Catalog, n: int) -> Predictions:
        """Predictions of the ``n``-neighbour vote over all setups and forms."""
        if not 1 <= n <= self.max_n:
            raise ValueError(f"cluster size {n} outside 1..{self.max_n} (raise --max-n)")
        return Predictions.concat([
            Predictions.from_matrix(catalog, self.eval_rows, s, form, self.setups[s], v[n - 1])
            for (s, form), v in self.votes.items()
        ])


def non_probe_questions(n_questions: int, probes: np.ndarray) -> np.ndarray:
    """Question indices compared for a setup: every question that is not one of its probes."""
    features = np.setdiff1d(np.arange(n_questions), probes)
    if len(features) == 0:
        raise ValueError("every question is a probe question: no questions left to compare people on")
    return features


def resemble_votes(
    catalog: Catalog, eval_rows: np.ndarray, pool_rows: np.ndarray, setups: dict[int, np.ndarray],
    max_n: int, forms: Iterable[str] = FORMS, packed: dict[str, PackedAnswers] | None = None,
    use_gpu: bool | None = None, progress: bool = True, label: str = "", threads: int | None = None,
) -> ResembleVotes:
    """Nearest-neighbour votes for every setup, form and cluster size 1..max_n.

    Args:
        catalog: the catalog.
        eval_rows: people to predict (must not be in the pool).
        pool_rows: candidate neighbours, in catalog order.
        setups: setup number -> probe question indices.
        max_n: the largest cluster size.
        forms: forms to predict; neighbours are searched in the same form.
        packed: pre-packed answers per form (from :func:`pack_forms` with these setups).
        use_gpu: GPU index on/off; None = when available.
        progress: show a progress bar over (setup, form).
        label: progress bar label.
        threads: CPU search threads (default: the cores available).

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
    packed = packed or pack_forms(catalog, setups, forms)
    n_q = len(catalog.codebook.questions)
    result = ResembleVotes(eval_rows, dict(setups))
    jobs = [(s, f) for f in forms for s in setups]
    probed = np.concatenate([np.asarray(p) for p in setups.values()])
    majority = {f: majority_table(catalog, pool_rows, f, probed) for f in forms}
    for s, form in tqdm(jobs, desc=f"resemble {label}".strip(), disable=not progress, leave=False):
        probes = np.asarray(setups[s], dtype=np.int64)
        fallback = majority[form][probes]
        codes = setup_codes(packed[form], eval_rows, pool_rows, non_probe_questions(n_q, probes))
        agreement, idx = top_neighbours(codes, max_n, use_gpu=use_gpu, threads=threads)
        labels = catalog.answers(form)[np.ix_(pool_rows, probes)][idx]  # [E, N, K]
        width = int(np.asarray(catalog.codebook.n_options(form))[probes].max())
        result.votes[(s, form)] = vote_all_sizes(labels, width, fallback)
        result.top_agreement[(s, form)] = agreement[:, 0]
    return result
