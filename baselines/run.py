"""Run every Table-3 baseline on a catalog and score it with the shared metrics.

Rows (names as in the paper's Table 3): Random (exact expectation; a seeded draw is scored too for
per-group charts), Global (majority vote), and Resemble (<pool>, top 1 / top cluster) for each
pool, then the classical imputers when asked (:func:`baselines.predictors.imputer_rows`). Every row
except the Random expectation is a :class:`ivr.predict.Predictor` run through the one evaluation path
(:func:`ivr.predict.run_predictors`) on the same prepared examples.
Resemble follows the evaluation convention (``eval_forms``: people are compared in the
demonstration form of each probe form; with ``"all"`` its rows appear once per view, the second
marked ``[crossed]``); :func:`convention` is the header naming it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from baselines.predictors import GLOBAL, RANDOM_DRAW, latent_class_name, resemble_name
from baselines.random import expected_accuracy
from baselines.resemble import FEATURES
from ivr.catalog.codebook import FORMS
from ivr.catalog.store import Catalog
from ivr.errors import ConfigError
from ivr.metrics import Report, accuracy_table, person_scores, table3_row
from ivr.predict import PEOPLE
from ivr.progress import progress
from ivr.protocol.conventions import EVAL_FORMS, convention_header, eval_views
from ivr.protocol.probes import probe_setups
from ivr.protocol.splits import EvalSplit, make_split

#: Resemble's neighbour pools when --pools is not given: a seeded sample of 1600 training people and all of them.
DEFAULT_POOLS = ("1600", "all")
RANDOM = "Random"
__all__ = [
    "GLOBAL",
    "RANDOM",
    "RANDOM_DRAW",
    "BaselineConfig",
    "BaselineResults",
    "check_config",
    "choose_split",
    "convention",
    "latent_class_name",
    "resemble_name",
    "run_baselines",
]


@dataclass
class BaselineConfig:
    """What to run.

    Attributes:
        setups: probe setup numbers (the study: 0, 1, 2).
        pools: neighbour pools: ``"all"`` (every training person) or a size such as ``"1600"``.
        max_n: largest cluster size of the N sweep.
        n_cluster: the cluster size reported as "top cluster" (the paper: 24).
        seed: seed of the pool sample, the random draw and the bootstrap.
        dimensions: per-group dimensions (None = all the codebook defines).
        bootstrap: bootstrap resamples for the table rows' intervals (0 = none).
        use_gpu: GPU FAISS index on/off; None = when available.
        progress: progress bars.
        threads: CPU threads of the neighbour search (None = the cores available).
        eval_forms: evaluation convention of the Resemble rows (:mod:`ivr.protocol.conventions`).
        features: Resemble compares people over ``"non_probe"`` questions (the study) or the
            ``"shown"`` demonstrations of each person.
        demo_count: demonstrations per person and setup with ``features="shown"`` (and in the header);
            ``"all"`` = every valid answer outside the setup's probes.
        latent_classes: classes of the latent class row (:mod:`baselines.latent_class`, fitted to the
            training pool; predicted from ``demo_count`` shown demonstrations); 0 = no such row.
        imputers: add the classical imputers' rows (gradient-boosted trees per question, latent traits).
        people: which people ``split.eval_rows`` are (``"evaluation"`` or ``"test"``), for the header.
        limit_eval_people: the ``--data.limit_eval_people`` cut already applied to them (header only).
    """

    setups: tuple[int, ...] = (0, 1, 2)
    pools: tuple[str, ...] = DEFAULT_POOLS
    max_n: int = 35
    n_cluster: int = 24
    seed: int = 0
    dimensions: list[str] | None = None
    bootstrap: int = 1000
    use_gpu: bool | None = None
    progress: bool = True
    threads: int | None = None
    eval_forms: str = "matched"
    features: str = "non_probe"
    demo_count: str = "200"
    latent_classes: int = 0
    imputers: bool = False
    people: str = "evaluation"
    limit_eval_people: int | None = None


@dataclass
class BaselineResults:
    """Scores of every baseline.

    Attributes:
        rows: method name -> Table-3 row (percent; keys as ``table3_methods`` in results.json).
        reports: method name -> metrics Report (not for the Random expectation).
        sweep: pool -> one Table-3 row per cluster size 1..max_n.
        info: split and run facts (sizes, seeds, pools).
        cpu: method name -> {"cpu_seconds", "fit_cpu_seconds", "predict_cpu_seconds"} (fit + predict).
    """

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # Table-3 row + n + cpu_seconds
    reports: dict[str, Report] = field(default_factory=dict)
    sweep: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, dict[str, float | None]] = field(default_factory=dict)


def fit_pools(pools: list[int | str] | None, n_train: int) -> tuple[str, ...]:
    """The neighbour pools to run: the default ``[1600, all]`` without a sized pool the training people cannot
    fill (one note line says so); a pool the user named must fit.

    Raises:
        ConfigError: a named pool larger than the training people.
    """
    if pools is None:
        fitting = [p for p in DEFAULT_POOLS if p == "all" or int(p) < n_train]
        if len(fitting) < len(DEFAULT_POOLS):
            print(
                f"note: the default Resemble pool of {DEFAULT_POOLS[0]} people is left out: the survey has "
                f"{n_train} training people, all of whom the 'all' pool uses",
                file=sys.stderr,
            )
        return tuple(fitting)
    for pool in (str(p) for p in pools):
        if pool.isdigit() and int(pool) > n_train:
            raise ConfigError(
                f"--pools {pool}: larger than the {n_train} training people of this catalog; "
                "give a smaller size or 'all'"
            )
    return tuple(str(p) for p in pools)


def check_config(catalog: Catalog, config: BaselineConfig) -> None:
    """Reject settings that cannot run, naming the flag and the fix.

    Raises:
        ConfigError: bad setups, cluster sizes, pools or dimensions (a ValueError).
    """
    if not config.setups or min(config.setups) < 0 or len(set(config.setups)) != len(config.setups):
        raise ConfigError(f"--data.setups {list(config.setups)}: give distinct setup numbers >= 0, e.g. [0, 1, 2]")
    if config.max_n < 1:
        raise ConfigError(f"--max_n must be >= 1, got {config.max_n}")
    if not 1 <= config.n_cluster <= config.max_n:
        raise ConfigError(f"--n_cluster {config.n_cluster} must be between 1 and --max_n {config.max_n}")
    for pool in config.pools:
        if pool != "all" and not (pool.isdigit() and int(pool) > 0):
            raise ConfigError(f"--pools {pool!r}: use 'all' or a positive number of people such as 1600")
        if pool != "all" and config.max_n > int(pool):
            raise ConfigError(f"--max_n {config.max_n} is larger than the pool of {pool} people; lower --max_n")
    if config.eval_forms not in EVAL_FORMS:
        raise ConfigError(f"--eval_forms {config.eval_forms!r}: use one of {EVAL_FORMS}")
    if config.features not in FEATURES:
        raise ConfigError(f"--features {config.features!r}: use one of {FEATURES}")
    if not (str(config.demo_count).isdigit() or config.demo_count in ("mixed", "rand", "all")):
        raise ConfigError(f"--demo_count {config.demo_count!r}: use an integer such as 200, 'mixed', 'rand' or 'all'")
    if config.people not in PEOPLE:
        raise ConfigError(f"--people {config.people!r}: use one of {PEOPLE}")
    if config.latent_classes < 0 or config.latent_classes > len(catalog):
        raise ConfigError(
            f"--latent_classes {config.latent_classes}: use 0 (no latent class row) or a number of "
            f"classes such as 512, at most the catalog's {len(catalog)} people"
        )
    defined = catalog.codebook.dimensions
    unknown = [d for d in (config.dimensions or []) if d not in defined]
    if unknown:
        raise ConfigError(
            f"--dimensions {unknown}: not defined by codebook {catalog.codebook.name!r}; "
            f"defined dimensions: {sorted(defined)}"
        )


def choose_split(
    catalog: Catalog,
    setups: list[np.ndarray],
    size: int = 800,
    seed: int = 0,
    rule: str = "study",
    ids_file: str | Path | None = None,
    min_valid: int | None = None,
) -> EvalSplit:
    """The evaluation people (:func:`ivr.protocol.splits.make_split`) with a population-size check.

    Raises:
        ConfigError: the eval set asked for is larger than the catalog.
    """
    if ids_file is None and size > len(catalog):
        raise ConfigError(
            f"--data.split_size {size} is larger than the catalog's population of {len(catalog)} people; "
            "lower --data.split_size"
        )
    return make_split(catalog, size=size, seed=seed, rule=rule, ids_file=ids_file, setups=setups, min_valid=min_valid)


def convention(config: BaselineConfig, n_setup_probes: int | None = None) -> str:
    """The header naming the convention the rows follow (:func:`ivr.protocol.conventions.convention_header`)."""
    return convention_header(
        config.eval_forms, str(config.demo_count), "setup", n_setup_probes, resemble=config.features
    )


def _row_from_expected(expected: dict[str, dict[int, float]], setups: tuple[int, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for form in FORMS:
        row[form] = [expected[form][s] for s in setups]
        row[f"{form}_avg"] = float(np.mean(row[form]))
    row["all"] = float(np.mean([row["polar_avg"], row["refined_avg"]]))
    return row


def run_baselines(
    catalog: Catalog,
    split: EvalSplit,
    config: BaselineConfig,
    probes: dict[int, np.ndarray] | None = None,
    extra: list[Any] | None = None,
) -> BaselineResults:
    """Predict and score every baseline through the one evaluation path (:func:`ivr.predict.run_predictors`).

    Args:
        catalog: the catalog.
        split: evaluation people (``eval_rows``, the people scored) and training pool.
        config: what to run.
        probes: setup number -> probe questions (e.g. ``DataSettings.chosen_setups``); None = the
            survey protocol's setups ``config.setups``.
        extra: further predictors scored on the same examples after the baselines (e.g. the Bayes ceiling).

    Returns:
        The scores, per-group reports, CPU-seconds and N sweeps.
    """
    from baselines.predictors import GlobalMajority, RandomDraw, imputer_rows, resemble_rows
    from ivr.predict import prepare, run_predictors, table_json_row

    check_config(catalog, config)
    if probes is None:
        all_setups = probe_setups(catalog.codebook, n_setups=max(config.setups) + 1)
        probes = {s: all_setups[s] for s in config.setups}
    setups = {s: np.asarray(probes[s]) for s in config.setups}
    rows, train = np.asarray(split.eval_rows), np.asarray(split.train_rows)
    count = str(len(catalog.codebook.questions)) if config.demo_count == "all" else config.demo_count
    examples = prepare(catalog, rows, train, setups, count, config.seed, people=config.people)
    views = eval_views(config.eval_forms)
    res = BaselineResults(
        info={
            "n_eval": int(len(rows)),
            "n_train": int(len(train)),
            "setups": list(config.setups),
            "max_n": config.max_n,
            "n_cluster": config.n_cluster,
            "seed": config.seed,
            "eval_forms": config.eval_forms,
            "features": config.features,
            "demo_count": str(config.demo_count),
            "people": config.people,
            "convention": convention(config, max(len(p) for p in setups.values()))
            + "\n"
            + people_line(examples, config),
        }
    )
    res.rows[RANDOM] = _row_from_expected(expected_accuracy(catalog, rows, setups), config.setups)
    resemble, searches = resemble_rows(
        config.pools,
        config.max_n,
        config.n_cluster,
        config.features,
        use_gpu=config.use_gpu,
        threads=config.threads,
        progress=config.progress,
    )
    predictors = [
        RandomDraw(),
        GlobalMajority(),
        *resemble,
        *imputer_rows(
            config.latent_classes, gbt=config.imputers, latent_trait=config.imputers, progress=config.progress
        ),
        *(extra or []),
    ]
    scored = run_predictors(
        predictors,
        {v: examples.with_view(v) for v in views},
        bootstrap=config.bootstrap,
        seed=config.seed,
        dimensions=config.dimensions,
    )
    for name, row in scored.items():
        res.reports[name] = row.report
        full = table_json_row(row)
        res.rows[name] = {k: v for k, v in full.items() if k != "ci" and not k.endswith("cpu_seconds")}
        res.cpu[name] = {k: v for k, v in full.items() if k.endswith("cpu_seconds")}
    for pool, search in searches.items():
        res.info[f"pool_{pool}"] = int(len(search.pool_rows))
        votes = search.votes_of(views[0])
        res.sweep[pool] = [
            table3_row(accuracy_table(person_scores(votes.predictions(catalog, n).canonical())), list(config.setups))
            for n in progress(range(1, config.max_n + 1), f"N sweep {pool}", unit="sizes", enabled=config.progress)
        ]
    return res


def people_line(examples: Any, config: BaselineConfig) -> str:
    """The header line naming the people every row is scored on."""
    from ivr.predict import people_header

    return people_header(examples, config.limit_eval_people)
