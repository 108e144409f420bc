"""Small catalogs and data modules for tests, benchmarks and smoke runs (random answers or a small synthetic
population), written once under a working folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ivr.catalog.codebook import Codebook, load_codebook
from ivr.catalog.store import Catalog
from ivr.data.datamodule import IVRDataModule


def random_catalog(people: int, seed: int = 0, codebook: str | Codebook = "wvs7", missing: float = 0.005) -> Catalog:
    """A catalog of uniformly random answers (no structure) for fast tests and smoke runs.

    Args:
        people: number of people; seed: RNG seed; codebook: a codebook or its spec; missing: share of missing answers.
    """
    cb = codebook if isinstance(codebook, Codebook) else load_codebook(codebook)
    rng = np.random.default_rng([seed, 41])
    refined = np.stack([rng.integers(0, len(q.refined), people) for q in cb.questions], axis=1)
    refined[rng.random(refined.shape) < missing] = -1
    polar = np.full(refined.shape, -1, dtype=np.int64)
    for j, q in enumerate(cb.questions):
        to_polar = q.code_to_index("polar")
        table = np.array([to_polar[o.codes[0]] for o in q.refined])
        ok = refined[:, j] >= 0
        polar[ok, j] = table[refined[ok, j]]
    demo = np.full((people, len(cb.demographic_columns)), -1, dtype=np.int64)
    for d in cb.demographics:
        c = cb.demographic_columns.index(d.column)
        if (demo[:, c] < 0).all():
            demo[:, c] = rng.choice(np.fromiter(d.values, dtype=np.int64), people)
    return Catalog(
        cb, np.arange(people, dtype=np.int64) + 1, polar.astype(np.int8), refined.astype(np.int8), demo.astype(np.int32)
    )


def tiny_datamodule(folder: str | Path, people: int = 300, synthetic: bool = False, **overrides: Any) -> IVRDataModule:
    """A small ready-to-``setup`` DataModule for tests and smoke runs (a catalog written under ``folder``).

    Args:
        folder: working folder (the catalog and statement tokenizer are written there once).
        people: population size.
        synthetic: a structured synthetic population (``ivr.catalog.synth``) instead of random answers.
        overrides: any :class:`IVRDataModule` argument.
    """
    from ivr.catalog.store import write_catalog

    folder = Path(folder)
    cat_dir = folder / f"{'synthetic' if synthetic else 'random'}_{people}"
    if not (cat_dir / "catalog.parquet").exists():
        if synthetic:
            from ivr.catalog.synth import synthesize

            catalog = synthesize(people, seed=0)[0]
        else:
            catalog = random_catalog(people)
        write_catalog(catalog, cat_dir, source="synthetic" if synthetic else "random")
    args: dict[str, Any] = dict(
        catalog=str(cat_dir),
        tokenizer="statement",
        n_per_question=4,
        probes_per_sequence=8,
        split_size=20,
        limit_eval_people=2,
        batch_size=4,
        cache_dir=str(folder / "cache"),
    )
    args.update(overrides)
    return IVRDataModule(**args)
